/**
 * @module
 * The controller's certificate authority for agent-to-agent transports (quic
 * uses mutual TLS). On first start it creates an ECDSA P-256 key and a
 * self-signed CA certificate in the state dir (`ca.key`, mode 0600, and
 * `ca.crt`); later starts load them, so certificates issued before a restart
 * stay valid. Each agent that joins gets a fresh key pair and a certificate
 * whose CN and DNS SAN are its name (plus an IP SAN for its advertised data
 * address), which its peers check against the name they expect.
 *
 * Built on @peculiar/x509 over WebCrypto (pure JS, no openssl binary at run
 * time). That library resolves its parts through tsyringe, which needs the
 * Reflect metadata polyfill loaded first: hence the import at the top.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import type { TlsBundle } from "../protocol/wire.ts";

export const CA_KEY_FILE = "ca.key";
export const CA_CERT_FILE = "ca.crt";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY_MS = 86_400_000;
const CA_DAYS = 3650;
export const AGENT_CERT_DAYS = 365;
/** backdating covers clocks a little behind the controller's */
const BACKDATE_MS = 3_600_000;

export class CertificateAuthority {
  /** the CA certificate, PEM: what every agent trusts */
  readonly certPem: string;
  readonly #cert: x509.X509Certificate;
  readonly #key: CryptoKey;

  private constructor(cert: x509.X509Certificate, key: CryptoKey) {
    this.#cert = cert;
    this.#key = key;
    this.certPem = cert.toString("pem");
  }

  /** Loads the CA from `stateDir`, creating it (and the dir) on first use. */
  static async loadOrCreate(stateDir: string, now: Date = new Date()): Promise<CertificateAuthority> {
    const keyPath = join(stateDir, CA_KEY_FILE);
    const certPath = join(stateDir, CA_CERT_FILE);
    const haveKey = existsSync(keyPath);
    if (haveKey !== existsSync(certPath)) {
      throw new Error(`${haveKey ? certPath : keyPath} is missing but ${haveKey ? keyPath : certPath} exists; restore it, or delete both to create a new CA (agents then need to rejoin)`);
    }
    if (haveKey) return CertificateAuthority.#load(keyPath, certPath);
    if (!existsSync(stateDir)) {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      chmodSync(stateDir, 0o700);
    }
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
    // a random suffix tells one controller's CA from another's in error messages
    const id = randomBytes(4).toString("hex");
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: [{ CN: [`nextmini CA ${id}`] }],
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
      signingAlgorithm: ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
    // the key first and exclusively ("wx"): a concurrent start fails here rather than mixing two CAs
    writeFileSync(keyPath, toPem(pkcs8, "PRIVATE KEY"), { mode: 0o600, flag: "wx" });
    chmodSync(keyPath, 0o600);
    writeFileSync(certPath, cert.toString("pem") + "\n", { mode: 0o644, flag: "wx" });
    return new CertificateAuthority(cert, keys.privateKey);
  }

  static async #load(keyPath: string, certPath: string): Promise<CertificateAuthority> {
    const keyPem = readFileSync(keyPath, "utf8");
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(readFileSync(certPath, "utf8"));
    } catch (e) {
      throw new Error(`${certPath} is not a PEM certificate: ${(e as Error).message}`);
    }
    // a key that does not belong to the certificate would issue certificates nobody can verify
    const ours = createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "der" });
    if (!Buffer.from(cert.publicKey.rawData).equals(ours)) {
      throw new Error(`${keyPath} is not the key of ${certPath}; restore the matching pair, or delete both to create a new CA`);
    }
    const der = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
    const key = await crypto.subtle.importKey("pkcs8", der, ALG, false, ["sign"]);
    return new CertificateAuthority(cert, key);
  }

  /**
   * A new key pair and certificate for agent `name`: CN and DNS SAN = name, an
   * IP SAN when `address` is an IP literal, usable as TLS client and server.
   */
  async issue(name: string, address?: string, now: Date = new Date()): Promise<TlsBundle> {
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
    const alt: x509.JsonGeneralName[] = [{ type: "dns", value: name }];
    if (address !== undefined && isIP(address) !== 0) alt.push({ type: "ip", value: address });
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: [{ CN: [name] }],
      issuer: this.#cert.subject,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + AGENT_CERT_DAYS * DAY_MS),
      signingAlgorithm: ALG,
      publicKey: keys.publicKey,
      signingKey: this.#key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension(alt),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.#cert.publicKey),
      ],
    });
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
    return { ca: this.certPem, cert: cert.toString("pem"), key: toPem(pkcs8, "PRIVATE KEY") };
  }
}

/** 16 random bytes with the top bit clear: positive, unique in practice, as RFC 5280 asks. */
function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString("hex");
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}
