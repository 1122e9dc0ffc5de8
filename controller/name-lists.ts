/**
 * @module
 * Name lists in requests (`h1,h[3-4]`, `vm[01-03]`) expanded for the
 * controller's logic: a malformed one is the same 422 wherever it appears,
 * naming the field it came in.
 */
import { ApiError } from "../protocol/errors.ts";
import { expandList } from "../protocol/names.ts";

export function namesOf(expr: string, field: string): string[] {
  try {
    return expandList(expr);
  } catch (e) {
    const issue = `${field}: ${(e as Error).message}`;
    throw new ApiError(422, "invalid_request", issue, { issues: [issue] });
  }
}
