/**
 * The controller's CA: issued certificates verify against it and carry the
 * agent's name, the CA survives a restart on the same state dir, and broken
 * state (a lone or mismatched file) is refused with a sentence.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CA_CERT_FILE, CA_KEY_FILE, CertificateAuthority } from "./ca.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "nextmini-ca-"));
  dirs.push(d);
  return join(d, "state");
}

describe("certificate authority", () => {
  test("creates ca.key (0600) and ca.crt, a CA certificate", async () => {
    const dir = tempDir();
    const ca = await CertificateAuthority.loadOrCreate(dir);
    expect(statSync(join(dir, CA_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const cert = new X509Certificate(readFileSync(join(dir, CA_CERT_FILE)));
    expect(cert.ca).toBe(true);
    expect(cert.subject).toStartWith("CN=nextmini CA ");
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(ca.certPem.trim()).toBe(readFileSync(join(dir, CA_CERT_FILE), "utf8").trim());
  });

  test("an issued certificate verifies against the CA and names the agent; its key is the certificate's", async () => {
    const ca = await CertificateAuthority.loadOrCreate(tempDir());
    const now = new Date();
    const b = await ca.issue("h1", "192.0.2.7", now);
    const caCert = new X509Certificate(b.ca);
    const cert = new X509Certificate(b.cert);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe("CN=h1");
    expect(cert.subjectAltName).toBe("DNS:h1, IP Address:192.0.2.7");
    expect(cert.validToDate.getTime() - now.getTime()).toBeGreaterThan(364 * 86_400_000);
    expect(cert.validFromDate.getTime()).toBeLessThanOrEqual(now.getTime());
    const msg = Buffer.from("proof of possession");
    const sig = sign("sha256", msg, createPrivateKey(b.key));
    expect(verify("sha256", msg, cert.publicKey, sig)).toBe(true);
    // a name that is not an IP literal gets no IP SAN; each agent gets its own key
    const c = await ca.issue("h2", "h2.example");
    expect(new X509Certificate(c.cert).subjectAltName).toBe("DNS:h2");
    expect(createPublicKey(c.key).export({ format: "der", type: "spki" }).equals(createPublicKey(b.key).export({ format: "der", type: "spki" }))).toBe(false);
  });

  test("openssl accepts the chain for both TLS client and server use", async () => {
    if (!Bun.which("openssl")) return;
    const dir = tempDir();
    const ca = await CertificateAuthority.loadOrCreate(dir);
    const b = await ca.issue("agent_1.lab");
    const leaf = join(dir, "leaf.pem");
    writeFileSync(leaf, b.cert);
    for (const purpose of ["sslclient", "sslserver"]) {
      const r = Bun.spawnSync(["openssl", "verify", "-purpose", purpose, "-CAfile", join(dir, CA_CERT_FILE), leaf]);
      expect(`${r.stdout}${r.stderr}`.trim()).toBe(`${leaf}: OK`);
    }
  });

  test("a restart on the same state dir keeps the CA: old certificates stay valid, new ones share the issuer", async () => {
    const dir = tempDir();
    const first = await CertificateAuthority.loadOrCreate(dir);
    const before = await first.issue("h1");
    const second = await CertificateAuthority.loadOrCreate(dir);
    expect(second.certPem).toBe(first.certPem);
    const after = await second.issue("h2");
    const caCert = new X509Certificate(second.certPem);
    expect(new X509Certificate(before.cert).verify(caCert.publicKey)).toBe(true);
    expect(new X509Certificate(after.cert).verify(new X509Certificate(first.certPem).publicKey)).toBe(true);
    // a different state dir is a different CA, which the first does not vouch for
    const other = await CertificateAuthority.loadOrCreate(tempDir());
    expect(new X509Certificate((await other.issue("h1")).cert).verify(caCert.publicKey)).toBe(false);
  });

  test("a lone or mismatched file is refused with a sentence, not replaced", async () => {
    const dir = tempDir();
    await CertificateAuthority.loadOrCreate(dir);
    const otherDir = tempDir();
    await CertificateAuthority.loadOrCreate(otherDir);
    writeFileSync(join(dir, CA_KEY_FILE), readFileSync(join(otherDir, CA_KEY_FILE)));
    await expect(CertificateAuthority.loadOrCreate(dir)).rejects.toThrow(/is not the key of .*ca\.crt/);
    unlinkSync(join(dir, CA_CERT_FILE));
    await expect(CertificateAuthority.loadOrCreate(dir)).rejects.toThrow(/ca\.crt is missing but .*ca\.key exists/);
  });
});
