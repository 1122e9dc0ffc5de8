/**
 * @module
 * WS /agent: the agents' socket. Binary msgpack frames go straight into the
 * hub; the hub authenticates the agent by the join token in its hello, so this
 * route sits outside the bearer-token middleware.
 */
import { Hono } from "hono";
import { getConnInfo, upgradeWebSocket } from "hono/bun";
import type { Context } from "hono";
import { ApiError } from "../../protocol/errors.ts";
import type { AgentSession } from "../hub.ts";
import type { AppDeps } from "../http.ts";

export function agentRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get(
    "/agent",
    async (c, next) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        throw new ApiError(400, "not_websocket", "this is the agents' WebSocket endpoint; connect with a WebSocket client (nextmini agent)");
      }
      await next();
    },
    upgradeWebSocket((c) => {
      let session: AgentSession | undefined;
      const remote = remoteAddress(c);
      return {
        onOpen(_event, ws) {
          session = deps.hub.attach(
            {
              // hono's WSContext types the bytes as backed by an ArrayBuffer; Bun sends any view
              send: (bytes) => ws.send(bytes as Uint8Array<ArrayBuffer>),
              close: (code, reason) => ws.close(code, reason),
            },
            remote,
          );
        },
        onMessage(event) {
          const data = event.data;
          // Bun hands binary messages over as ArrayBuffer; a Blob (other runtimes) is refused like text
          session?.onMessage(typeof data === "string" || data instanceof Blob ? "(non-binary message)" : new Uint8Array(data));
        },
        onClose() {
          session?.onClose();
        },
      };
    }),
  );
  return app;
}

function remoteAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // no Bun server behind this request (app.request in tests)
  }
}
