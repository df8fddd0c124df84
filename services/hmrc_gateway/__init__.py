"""MTD VAT HMRC gateway: The only caller of HMRC's VAT API: fraud prevention headers, rate
governor, safe retries, circuit breaker.
"""
