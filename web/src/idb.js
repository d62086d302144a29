// A few promises over IndexedDB: the outbox of events, the cached catalog and small settings.
// Data here survives reloads and browser restarts; nothing is kept in memory only.

const NAME = 'bazaar';
const VERSION = 1;
let opening = null;

export function open() {
  opening ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(NAME, VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
      if (!db.objectStoreNames.contains('kv')) db.createObjectStore('kv');
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => { opening = null; reject(req.error); };
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
  });
  return opening;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

const result = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});

/** Every record of a store, in key order (the outbox: the order events were recorded). */
export async function all(store) {
  const db = await open();
  return result(db.transaction(store).objectStore(store).getAll());
}

export async function get(store, key) {
  const db = await open();
  return result(db.transaction(store).objectStore(store).get(key));
}

/** Add a record (auto key) and resolve with its key once it is durable. */
export async function add(store, value) {
  const db = await open();
  const tx = db.transaction(store, 'readwrite', { durability: 'strict' });
  const key = result(tx.objectStore(store).add(value));
  await done(tx);
  return key;
}

export async function put(store, value, key) {
  const db = await open();
  const tx = db.transaction(store, 'readwrite');
  key === undefined ? tx.objectStore(store).put(value) : tx.objectStore(store).put(value, key);
  await done(tx);
}

/** Apply `change(record)` to the records with these keys in one transaction. */
export async function update(store, keys, change) {
  const db = await open();
  const tx = db.transaction(store, 'readwrite', { durability: 'strict' });
  const os = tx.objectStore(store);
  for (const key of keys) {
    const req = os.get(key);
    req.onsuccess = () => { if (req.result) os.put(change(req.result)); };
  }
  await done(tx);
}

export async function remove(store, keys) {
  const db = await open();
  const tx = db.transaction(store, 'readwrite');
  for (const key of keys) tx.objectStore(store).delete(key);
  await done(tx);
}
