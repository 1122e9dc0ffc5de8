/**
 * Who is on the other end of a QUIC connection. Agents authenticate each other
 * with certificates from the controller's CA whose CN and DNS SAN are the agent
 * name. quiche is told to let any presented certificate through the handshake
 * (conn.ts), so the worker checks everything here once the handshake is done:
 * signed by our CA, within its validity, and naming an agent the caller
 * accepts; a refusal can then say why. Node's X509Certificate (BoringSSL
 * underneath in Bun) does the parsing and the signature check, synchronously.
 */
import { X509Certificate } from "node:crypto";
import * as native from "@matrixai/quic/native/index.js";

/**
 * The agent name a certificate vouches for: its CN, required to appear as a
 * DNS SAN too (names are `[a-z0-9][a-z0-9_.-]*`, so neither holds ", ").
 */
export function agentName(cert: X509Certificate): string | undefined {
  const cn = /^CN=([a-z0-9][a-z0-9_.-]{0,62})$/.exec(cert.subject)?.[1];
  if (cn === undefined) return undefined;
  const sans = (cert.subjectAltName ?? "").split(", ");
  return sans.includes(`DNS:${cn}`) ? cn : undefined;
}

/** The agent name in a DER certificate (a connection's remote chain), if it names one. */
export function agentNameOfDer(der: Uint8Array | undefined): string | undefined {
  if (!der) return undefined;
  try {
    return agentName(new X509Certificate(der));
  } catch {
    return undefined;
  }
}

export type Verdict = { ok: true; name: string } | { ok: false; code: number; reason: string };

/** Checks a peer's leaf certificate (DER) against the CA and `accept`. */
export function checkPeer(ca: X509Certificate, leafDer: Uint8Array | undefined, accept: (name: string) => boolean, now: Date = new Date()): Verdict {
  const E = native.CryptoError;
  if (!leafDer) return { ok: false, code: E.CertificateRequired, reason: "no certificate" };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafDer);
  } catch {
    return { ok: false, code: E.BadCertificate, reason: "unparseable certificate" };
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) {
    return { ok: false, code: E.UnknownCA, reason: `certificate of ${leaf.subject} is not from this cluster's CA` };
  }
  if (now < leaf.validFromDate || now > leaf.validToDate) {
    return { ok: false, code: E.CertificateExpired, reason: `certificate of ${leaf.subject} is not valid now (${leaf.validFrom} to ${leaf.validTo})` };
  }
  const name = agentName(leaf);
  if (name === undefined) return { ok: false, code: E.BadCertificate, reason: `certificate of ${leaf.subject} names no agent` };
  if (!accept(name)) return { ok: false, code: E.AccessDenied, reason: `agent "${name}" is not expected here` };
  return { ok: true, name };
}
