"""HMRC sandbox simulator: A faithful simulator of HMRC's sandbox: OAuth, test users, the VAT
API and fraud prevention header validation.
"""
