/** Capture files on the agent: opened with the pcap header, appended to after a restart, replaced when stale. */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { NamespaceState } from "../protocol/state.ts";
import { CaptureFiles, openCaptureFile } from "./captures.ts";
import { pcapFileHeader } from "./dataplane/pcap.ts";

const dir = mkdtempSync(path.join(tmpdir(), "nextmini-capture-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEADER = Buffer.from(pcapFileHeader());

function ns(name: string, captures: NamespaceState["captures"]): NamespaceState {
  return { name, subnet: "10.0.0.0/16", transport: "tcp", hostTransports: [], nodes: [], links: [], routes: [], nextHops: {}, captures, flows: [], paths: "shortest", pins: [] };
}

describe("openCaptureFile", () => {
  test("a new file, in a directory made for it, starts with the pcap header", () => {
    const file = path.join(dir, "new/sub/c1.pcap");
    closeSync(openCaptureFile(file, Date.now()));
    expect(readFileSync(file)).toEqual(HEADER);
  });

  test("this capture's own file is appended to; an older capture's or another program's is replaced", () => {
    const file = path.join(dir, "again.pcap");
    const created = Date.now() - 60_000;
    writeFileSync(file, Buffer.concat([HEADER, Buffer.from("records")]));
    const fd = openCaptureFile(file, created);
    writeSync(fd, "+more");
    closeSync(fd);
    expect(readFileSync(file).subarray(24).toString()).toBe("records+more");
    // written before the capture was created: a file of an earlier capture with the same name
    utimesSync(file, new Date(created - 10_000), new Date(created - 10_000));
    closeSync(openCaptureFile(file, created));
    expect(readFileSync(file)).toEqual(HEADER);
    writeFileSync(file, "not a pcap file at all, but long enough");
    closeSync(openCaptureFile(file, created));
    expect(readFileSync(file)).toEqual(HEADER);
  });

  test("a directory in the file's place is refused with why", () => {
    const file = path.join(dir, "adir");
    mkdirSync(file);
    expect(() => openCaptureFile(file, 0)).toThrow(/is a directory/);
  });
});

describe("CaptureFiles", () => {
  test("opens each wanted capture once, with its targets as dataplane keys; drops the unwanted; reports failures", () => {
    const files = new CaptureFiles();
    const node = { id: "c1", node: "a", file: path.join(dir, "cf/c1.pcap"), created: Date.now() };
    const link = { id: "c2", link: "a:b", file: path.join(dir, "cf/c2.pcap"), created: Date.now() };
    const bad = { id: "c3", node: "b", file: path.join(dir, "adir2"), created: Date.now() };
    mkdirSync(bad.file);
    const first = files.reconcile([ns("lab", [node, link, bad])]);
    expect(first.map(({ fd: _fd, ...o }) => o)).toEqual([
      { key: "lab/c1", nodes: ["lab/a"], dirs: [] },
      { key: "lab/c2", nodes: [], dirs: ["lab/a:b/ab", "lab/a:b/ba"] },
    ]);
    expect(files.errors().get("lab/c3")).toBe(`cannot open ${bad.file}: it is a directory`);
    const again = files.reconcile([ns("lab", [node])]);
    expect(again).toEqual([first[0]]);
    expect(files.errors().size).toBe(0);
    for (const o of first) closeSync(o.fd);
  });
});
