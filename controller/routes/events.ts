/**
 * @module
 * GET /events: live events as Server-Sent Events (`data: <json>` per event),
 * or the same JSON, one event per message, over a WebSocket at the same path.
 * `?namespace=` keeps one namespace's events (and host events), `?kinds=`
 * some kinds, `?interval=` sets how often link stats come (ms, default 1000,
 * at least 100; agents report counters once a second, so a shorter interval
 * repeats rates between reports). Each client reads from a bounded buffer of
 * its own (controller/monitor/event-bus.ts): one that does not read misses
 * events, and is told how many, instead of slowing anyone.
 */
import { Hono, type Context } from "hono";
import { upgradeWebSocket } from "hono/bun";
import { EventQuery, type LiveEvent } from "../../protocol/events.ts";
import { KEEPALIVE, Serialized, type EventClient } from "../monitor/event-bus.ts";
import { allowSlowResponse, type AppDeps } from "../http.ts";
import { linkStatsRows } from "../views.ts";

const DEFAULT_INTERVAL_MS = 1000;
/** a comment line this often keeps proxies and idle timers from closing a quiet stream */
const KEEPALIVE_MS = 15_000;
/** a WebSocket client with this much unsent waits; its buffer fills and it misses events */
const WS_BACKLOG_BYTES = 1 << 20;
/** link stats built for one client serve the others asking within this long */
const LINKS_CACHE_MS = 50;

type Subscription = { client: EventClient; stop: () => void };

export function eventRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const cache = new Map<string, { at: number; event: Serialized }>();

  /** The namespaces' link stats as one `links` event each, serialized (shared between clients of the same moment). */
  const linkEvents = (namespace: string | undefined): Serialized[] => {
    const now = Date.now();
    const names = namespace === undefined ? deps.namespaces.list().map((n) => n.name) : [namespace];
    const out: Serialized[] = [];
    for (const name of names) {
      const hit = cache.get(name);
      if (hit && now - hit.at < LINKS_CACHE_MS) {
        out.push(hit.event);
        continue;
      }
      const ns = deps.namespaces.find(name);
      if (!ns) continue;
      const event = new Serialized(JSON.stringify({ kind: "links", t: now, namespace: name, links: linkStatsRows(ns, deps.hub) } satisfies LiveEvent));
      cache.set(name, { at: now, event });
      out.push(event);
    }
    return out;
  };

  const subscribe = (c: Context): Subscription => {
    const { namespace, kinds, interval } = EventQuery.parse(c.req.query());
    if (namespace !== undefined) deps.namespaces.get(namespace);
    const client = deps.hub.events.subscribe({ ...(namespace === undefined ? {} : { namespace }), ...(kinds ? { kinds } : {}) });
    const timer =
      kinds === undefined || kinds.includes("links")
        ? setInterval(() => {
            for (const event of linkEvents(namespace)) client.offer(event);
          }, interval ?? DEFAULT_INTERVAL_MS)
        : undefined;
    return {
      client,
      stop: () => {
        if (timer) clearInterval(timer);
        deps.hub.events.unsubscribe(client);
      },
    };
  };

  app.get(
    "/events",
    async (c, next) => {
      if (c.req.header("upgrade")?.toLowerCase() === "websocket") return next();
      const sub = subscribe(c);
      allowSlowResponse(c, Infinity);
      const encoder = new TextEncoder();
      let keepalive: ReturnType<typeof setInterval> | undefined;
      const stream = new ReadableStream<Uint8Array>(
        {
          start(ctrl) {
            ctrl.enqueue(encoder.encode(": nextmini events\n\n"));
            keepalive = setInterval(() => sub.client.offer(KEEPALIVE), KEEPALIVE_MS);
          },
          async pull(ctrl) {
            await sub.client.ready();
            if (sub.client.closed) {
              ctrl.close();
              return;
            }
            for (const event of sub.client.take()) ctrl.enqueue(event.sse);
          },
          cancel() {
            if (keepalive) clearInterval(keepalive);
            sub.stop();
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(stream, {
        headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
      });
    },
    upgradeWebSocket((c) => {
      const sub = subscribe(c);
      let open = true;
      return {
        onOpen(_event, ws) {
          const raw = ws.raw as { getBufferedAmount?: () => number } | undefined;
          void (async () => {
            while (open) {
              await sub.client.ready();
              if (!open || sub.client.closed) return;
              // a socket that is not draining leaves events in the client's buffer, which overflows into `dropped`
              while (open && (raw?.getBufferedAmount?.() ?? 0) > WS_BACKLOG_BYTES) await Bun.sleep(50);
              for (const event of sub.client.take()) if (event !== KEEPALIVE) ws.send(event.json);
            }
          })();
        },
        onClose() {
          open = false;
          sub.stop();
        },
      };
    }),
  );
  return app;
}
