/* The shell's live stream: server-sent events read with fetch(), resumable.
 *
 * EventSource cannot send the Authorization header the API needs, so the stream is read
 * from fetch()'s body. Each event's id is remembered and sent back as Last-Event-ID on
 * reconnecting, after the server's ``retry`` (2 s by default); ``onState(true|false)``
 * says whether the stream is up, so a page can poll while it is not.
 */
import { API, authHeaders } from "./api.js";

export function subscribe(path, onEvent, { onState = () => {} } = {}) {
  let lastId = null, retry = 2000, stopped = false, controller = null;

  function dispatch(block) {
    let event = "message", data = "", id = null;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data += (data ? "\n" : "") + value;
      else if (field === "id") id = value;
      else if (field === "retry" && /^\d+$/.test(value)) retry = +value;
    }
    if (id !== null) lastId = id;
    if (!data) return;
    let body = data;
    try { body = JSON.parse(data); } catch (e) { /* plain text */ }
    onEvent(event, body);
  }

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      const headers = authHeaders(lastId ? { "Last-Event-ID": lastId } : {});
      try {
        const r = await fetch(API + path, { headers, signal: controller.signal });
        if (r.status === 401) { document.dispatchEvent(new CustomEvent("gridmap:signed-out")); return; }
        if (!r.ok || !r.body) throw new Error(String(r.status));
        onState(true);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            dispatch(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
          }
        }
      } catch (e) {
        if (stopped) return;
        onState(false);
      }
      if (!stopped) await new Promise((ok) => setTimeout(ok, retry));
    }
  }

  run();
  return { close() { stopped = true; if (controller) controller.abort(); } };
}
