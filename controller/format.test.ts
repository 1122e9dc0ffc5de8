/** Listing formats: json with columns, aligned tables, csv quoting, errors. */
import { expect, test } from "bun:test";
import { ApiError } from "../protocol/errors.ts";
import { formatRate } from "../protocol/units.ts";
import { type Listing, renderList } from "./format.ts";

type Row = { name: string; memTotalMB: number; bandwidth: number; tags: string[]; note?: string };
const rows: Row[] = [
  { name: "alpha", memTotalMB: 1024, bandwidth: 1e8, tags: ["x", "y"], note: 'says "hi", twice' },
  { name: "b", memTotalMB: 64, bandwidth: 0, tags: [] },
];
const listing: Listing<Row> = {
  columns: [
    { name: "name", value: (r) => r.name },
    { name: "memTotalMB", value: (r) => r.memTotalMB },
    { name: "bandwidth", value: (r) => r.bandwidth, text: (r) => formatRate(r.bandwidth) },
    { name: "tags", value: (r) => r.tags },
    { name: "note", value: (r) => r.note },
  ],
  table: ["name", "bandwidth", "tags"],
};

test("json: rows as they are, or only the asked columns in the asked order", () => {
  expect(JSON.parse(renderList(rows, listing, {}).body)).toEqual(rows);
  const r = renderList(rows, listing, { format: "json", columns: "bandwidth,name" });
  expect(r.contentType).toStartWith("application/json");
  expect(r.body).toBe('[{"bandwidth":100000000,"name":"alpha"},{"bandwidth":0,"name":"b"}]');
});

test("table: uppercase headers, aligned, units rendered, default columns", () => {
  const r = renderList(rows, listing, { format: "table" });
  expect(r.contentType).toStartWith("text/plain");
  expect(r.body).toBe(
    ["NAME    BANDWIDTH   TAGS", "alpha   100Mbit     x,y", "b       unlimited   -", ""].join("\n"),
  );
  const wide = renderList(rows, listing, { format: "table", columns: "memTotalMB,name" });
  expect(wide.body.split("\n")[0]).toBe("MEM TOTAL MB   NAME");
});

test("csv: header of column names, quoting where needed", () => {
  const r = renderList(rows, listing, { format: "csv", columns: "name,note,tags" });
  expect(r.contentType).toStartWith("text/csv");
  expect(r.body).toBe('name,note,tags\nalpha,"says ""hi"", twice","x,y"\nb,,\n');
});

test("unknown columns and formats are 422s naming them and the valid ones", () => {
  try {
    renderList(rows, listing, { columns: "name,bogus" });
    throw new Error("expected a throw");
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const err = e as ApiError;
    expect(err.status).toBe(422);
    expect(err.message).toBe('unknown column "bogus"; valid columns: name, memTotalMB, bandwidth, tags, note');
  }
  expect(() => renderList(rows, listing, { format: "xml" })).toThrow('unknown format "xml"; valid formats: json, table, csv');
});
