// The device authorization grant (RFC 8628) with DPoP (RFC 9449), run by an unmodified, widely used
// JavaScript client library against the example server: openid-client or oauth4webapi, chosen by
// LIBRARY. It writes JSON lines on stdout: {"user_code": ...} when the user must approve (the Go test
// approves it), then {"result": ...} with what the server answered. Any failure exits non-zero with the
// error on stderr.
//
// Environment: ISSUER (the example server's issuer URL), CLIENT_ID (a public device client), LIBRARY
// ("openid-client" or "oauth4webapi").
import * as client from 'openid-client'
import * as oauth from 'oauth4webapi'
import { calculateJwkThumbprint, exportJWK } from 'jose'

const issuer = new URL(process.env.ISSUER)
const clientId = process.env.CLIENT_ID
const scope = 'openid profile offline_access'
const say = (v) => process.stdout.write(JSON.stringify(v) + '\n')

async function withOpenIDClient() {
  const config = await client.discovery(issuer, clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] })
  const keyPair = await client.randomDPoPKeyPair('ES256')
  const DPoP = client.getDPoPHandle(config, keyPair)
  const da = await client.initiateDeviceAuthorization(config, { scope })
  say({ user_code: da.user_code })
  const tokens = await client.pollDeviceAuthorizationGrant(config, da, undefined, { DPoP })
  const sub = tokens.claims().sub
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP })
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
  const res = await client.fetchProtectedResource(config, refreshed.access_token, new URL('/api/whoami', issuer), 'GET', undefined, undefined, { DPoP })
  return { keyPair, tokens, userinfo, refreshed, whoami: await res.json(), status: res.status }
}

// retry sends a request again once when the server asks for a DPoP nonce: the DPoP handle keeps the
// nonce the error carried (RFC 9449 §8), as oauth4webapi's documentation shows.
async function retry(send) {
  try {
    return await send()
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return await send()
    throw err
  }
}

async function withOAuth4WebAPI() {
  const opts = { [oauth.allowInsecureRequests]: true }
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, opts))
  const c = { client_id: clientId }
  const auth = oauth.None()
  const keyPair = await oauth.generateKeyPair('ES256')
  const DPoP = oauth.DPoP(c, keyPair)
  const da = await oauth.processDeviceAuthorizationResponse(as, c, await oauth.deviceAuthorizationRequest(as, c, auth, { scope }, opts))
  say({ user_code: da.user_code })
  let interval = da.interval ?? 5
  let tokens
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, interval * 1000))
    try {
      tokens = await retry(async () => oauth.processDeviceCodeResponse(as, c, await oauth.deviceCodeGrantRequest(as, c, auth, da.device_code, { ...opts, DPoP })))
      break
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError && err.error === 'authorization_pending') continue
      if (err instanceof oauth.ResponseBodyError && err.error === 'slow_down') { interval += 5; continue }
      throw err
    }
  }
  const sub = oauth.getValidatedIdTokenClaims(tokens).sub
  const userinfo = await retry(async () => oauth.processUserInfoResponse(as, c, sub, await oauth.userInfoRequest(as, c, tokens.access_token, { ...opts, DPoP })))
  const refreshed = await retry(async () => oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token, { ...opts, DPoP })))
  const res = await retry(async () => oauth.protectedResourceRequest(refreshed.access_token, 'GET', new URL('/api/whoami', issuer), undefined, undefined, { ...opts, DPoP }))
  return { keyPair, tokens, userinfo, refreshed, whoami: await res.json(), status: res.status }
}

const run = process.env.LIBRARY === 'oauth4webapi' ? withOAuth4WebAPI : withOpenIDClient
try {
  const r = await run()
  say({
    result: {
      jkt: await calculateJwkThumbprint(await exportJWK(r.keyPair.publicKey)),
      token_type: r.tokens.token_type,
      access_token: r.tokens.access_token,
      refreshed_token_type: r.refreshed.token_type,
      refreshed_access_token: r.refreshed.access_token,
      userinfo: r.userinfo,
      whoami_status: r.status,
      whoami: r.whoami,
    },
  })
} catch (err) {
  process.stderr.write(`${err?.name}: ${err?.message}\n${JSON.stringify(err?.cause ?? null)}\n`)
  process.exit(1)
}
