// VAT returns arriving at the platform's submission API as a filing deadline approaches.
//
// Everything the script needs comes from the JSON file named by LOAD_CONFIG, written by
// `python -m loadtests.run`: the scenario (smoke, baseline, deadline — a baseline, then the
// spike —, or soak: one ramping arrival rate each), the thresholds, the tenants' API
// clients and one prepared return per iteration: iteration n sends return n, so no return
// is sent twice by accident and the runner knows exactly which ones were sent.
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { SharedArray } from 'k6/data';

const config = JSON.parse(open(__ENV.LOAD_CONFIG));
// Thousands of returns: parsed once and shared, not copied into every VU.
const items = new SharedArray('returns', () => JSON.parse(open(config.itemsPath)));

export const options = {
  scenarios: config.scenarios,
  thresholds: config.thresholds,
  // Without `url` among the system tags a VRN in a path never becomes a metric series.
  systemTags: ['status', 'method', 'name', 'scenario', 'expected_response', 'error_code'],
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  discardResponseBodies: false,
};

const accepted = new Counter('returns_accepted');
const refused = new Counter('returns_refused');
const unexpected = new Counter('returns_unexpected');
const submitLatency = new Trend('submit_duration', true);

// What the API must answer for each kind of return.
const EXPECTED = {
  valid: [202],
  bad_arithmetic: [400],
  period_not_open: [422],
  duplicate: [409],
};

// One access token per tenant, fetched in setup(): signing in checks a hashed secret, which
// is deliberately slow, so a VU must not sign in per request. Auth's tokens last 15
// minutes; a VU that meets a 401 in a longer run signs in again for that tenant.
const renewed = {};

function signIn(tenantIndex) {
  const tenant = config.tenants[tenantIndex];
  const r = http.post(
    `${config.authUrl}/v1/auth/token`,
    { grant_type: 'client_credentials', client_id: tenant.clientId, client_secret: tenant.clientSecret },
    { tags: { name: 'POST /v1/auth/token', endpoint: 'token' } },
  );
  if (r.status !== 200) {
    throw new Error(`sign-in for tenant ${tenantIndex}: ${r.status}`);
  }
  return r.json('access_token');
}

function enc(value) {
  return encodeURIComponent(value);
}

// The end user's device data, as each kind of client application would send it.
function deviceHeaders(method, item) {
  const now = new Date().toISOString();
  const mfa = `type=TOTP&timestamp=${enc(now.slice(0, 16) + 'Z')}&unique-reference=${item.user}`;
  const common = {
    'Gov-Client-Connection-Method': method,
    'Gov-Client-Device-ID': item.device,
    'Gov-Client-Timezone': 'UTC+00:00',
    'Gov-Vendor-Version': 'load-accounts=3.2.1',
    'Gov-Vendor-License-IDs': `load-accounts=${item.licence}`,
  };
  const screen = {
    'Gov-Client-Screens': 'width=1920&height=1080&scaling-factor=1&colour-depth=24',
    'Gov-Client-Window-Size': 'width=1256&height=803',
  };
  const installed = {
    'Gov-Client-Local-IPs': `10.1.2.3,${enc('fe80::1')}`,
    'Gov-Client-Local-IPs-Timestamp': now,
    'Gov-Client-MAC-Addresses': enc('ea:43:1a:5d:21:45'),
    'Gov-Client-User-Agent':
      'os-family=Windows&os-version=11%20Pro&device-manufacturer=Dell%20Inc.&device-model=OptiPlex%20980',
    'Gov-Client-User-IDs': `os=${enc('LOAD\\' + item.user)}&load-accounts=${item.user}`,
  };
  if (method === 'WEB_APP_VIA_SERVER') {
    return {
      ...common,
      ...screen,
      'Gov-Client-User-IDs': `load-accounts=${item.user}`,
      'Gov-Client-Browser-JS-User-Agent': enc('Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101'),
      'Gov-Client-Multi-Factor': mfa,
      Forwarded: `for="81.2.69.${item.octet}:41234"`,
    };
  }
  if (method === 'DESKTOP_APP_DIRECT') {
    return { ...common, ...screen, ...installed, 'Gov-Client-Multi-Factor': mfa };
  }
  return { ...common, ...installed }; // BATCH_PROCESS_DIRECT
}

export function setup() {
  // Fail fast when the stack is not answering, before any return is counted.
  const r = http.get(`${config.submissionUrl}/readyz`, { tags: { name: 'GET /readyz' } });
  if (r.status !== 200) {
    throw new Error(`submission is not ready: ${r.status}`);
  }
  return { tokens: config.tenants.map((_, index) => signIn(index)) };
}

function submit(item, token) {
  const headers = {
    ...deviceHeaders(item.method, item),
    Authorization: `Bearer ${token}`,
    'Content-Type': 'application/json',
    'Idempotency-Key': item.key,
  };
  return http.post(`${config.submissionUrl}/v1/vat/${item.vrn}/returns`, item.body, {
    headers,
    tags: { name: 'POST /v1/vat/{vrn}/returns', endpoint: 'submit', kind: item.kind, method: item.method },
    responseCallback: http.expectedStatuses(...EXPECTED[item.kind]),
  });
}

export default function (data) {
  const index = exec.scenario.iterationInTest;
  if (index >= items.length) {
    return; // more iterations than prepared returns: nothing left to send
  }
  const item = items[index];
  let r = submit(item, renewed[item.tenant] || data.tokens[item.tenant]);
  if (r.status === 401) {
    renewed[item.tenant] = signIn(item.tenant);
    r = submit(item, renewed[item.tenant]);
  }
  submitLatency.add(r.timings.duration, { kind: item.kind });
  const ok = check(r, { 'answered as expected': (res) => EXPECTED[item.kind].includes(res.status) }, { kind: item.kind });
  if (r.status === 202) {
    accepted.add(1, { kind: item.kind });
  } else if (ok) {
    refused.add(1, { kind: item.kind });
  }
  if (!ok) {
    unexpected.add(1, { kind: item.kind, status: String(r.status) });
  }
}

export function handleSummary(data) {
  // The setup data holds the tenants' access tokens: never write them out.
  const masked = { ...data, setup_data: { tokens: (data.setup_data?.tokens || []).map(() => '***') } };
  return { [__ENV.SUMMARY_PATH]: JSON.stringify(masked, null, 2) };
}
