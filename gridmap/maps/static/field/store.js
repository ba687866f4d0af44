/* The phone's own store (IndexedDB): the cell's pack, the queue of edits, a few facts.
 *
 * ``pack``: one record per cell — the bundle of GET /areas/{code}/pack, whose it is, when it
 * was made (the next ``?since=``) and when the phone last synced. ``queue``: the edits made
 * on the phone, in the order made (``seq``), each with its ``client_id`` and the version it
 * was made on; a photo is kept as a Blob beside its edit. ``meta``: who signed in, the
 * categories, the task sheets — what the app shows when there is no network.
 */
const NAME = "gridmap-field";
let opened = null;

function db() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const r = indexedDB.open(NAME, 1);
      r.onupgradeneeded = () => {
        const d = r.result;
        d.createObjectStore("pack", { keyPath: "code" });
        d.createObjectStore("queue", { keyPath: "client_id" }).createIndex("seq", "seq");
        d.createObjectStore("meta", { keyPath: "key" });
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  return opened;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(name, mode, fn) {
  const d = await db();
  const tx = d.transaction(name, mode);
  const result = fn(tx.objectStore(name));
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  return result instanceof IDBRequest ? result.result : result;
}

export const get = (name, key) => run(name, "readonly", (s) => s.get(key));
export const put = (name, value) => run(name, "readwrite", (s) => s.put(value));
export const remove = (name, key) => run(name, "readwrite", (s) => s.delete(key));
export const all = (name) => run(name, "readonly", (s) => s.getAll());

export async function meta(key) {
  const row = await get("meta", key);
  return row ? row.value : null;
}
export const setMeta = (key, value) => put("meta", { key, value });

/** The queue in the order the edits were made. */
export async function queue() {
  const d = await db();
  return done(d.transaction("queue").objectStore("queue").index("seq").getAll());
}

let last = 0;
/** Add an edit to the queue: a fresh ``client_id`` and its place in the order. */
export async function enqueue(edit) {
  const seq = Math.max(Date.now(), last + 1);
  last = seq;
  const clientId = (crypto.randomUUID ? crypto.randomUUID() : `${seq}-${Math.random().toString(36).slice(2)}`);
  const row = Object.assign({ client_id: clientId, seq, state: "pending", created_at: new Date().toISOString() }, edit);
  await put("queue", row);
  return row;
}

/** Every pack but ``keep`` dropped (the worker was moved to another cell). */
export async function dropPacksBut(keep) {
  const packs = await all("pack");
  const dropped = packs.filter((p) => p.code !== keep);
  for (const p of dropped) await remove("pack", p.code);
  return dropped.length;
}
