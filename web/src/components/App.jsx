import { useEffect, useRef } from 'preact/hooks';
import { app, autoLanguage, currentStore, navigate, setLanguage, setStore, useAuth, useI18n, useStore } from '../state.js';
import { loadCatalog, loadStores } from '../catalog.js';
import { LANGUAGES } from '../i18n.js';
import { SyncBadge } from './Outbox.jsx';
import { DeviceSettings, Pair } from './Pair.jsx';
import { Counter } from '../pages/Counter.jsx';
import { Dashboard } from '../pages/Dashboard.jsx';
import { StoreList, StorePicker } from './StorePicker.jsx';

async function refreshCatalog() {
  const stores = await loadStores();
  const state = app.get();
  app.set({ stores: stores.items, storesFromCache: stores.fromCache });
  if (!state.storeId && stores.items.length === 1) setStore(stores.items[0].store_id); // more: the list below
  await loadCatalog();
}

function NavLink({ href, children, current }) {
  return (
    <a
      href={href}
      aria-current={current ? 'page' : undefined}
      onClick={(e) => {
        if (e.button || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

/** One button that switches to the other language, named in that language. */
function LanguageSwitch({ lang, label }) {
  const codes = Object.keys(LANGUAGES);
  const other = codes[(codes.indexOf(lang) + 1) % codes.length];
  return (
    <button type="button" class="lang" lang={other} title={label} onClick={() => setLanguage(other)}>
      {LANGUAGES[other].name}
    </button>
  );
}

export function App() {
  const state = useStore(app);
  const session = useAuth();
  const { t } = useI18n();
  const onCounter = state.path.replace(/\/+$/, '') === '/counter';

  const wasOnline = useRef(state.online);
  // At start (the saved catalog, offline too) and whenever the device's key changes
  useEffect(() => { refreshCatalog(); }, [session.credential?.id ?? null]);
  useEffect(() => { // back online: fetch the catalog again
    if (state.online && !wasOnline.current) refreshCatalog();
    wasOnline.current = state.online;
  }, [state.online]);
  useEffect(() => { // the store's locale picks the language until someone picks one
    if (state.stores.length && state.storeId) autoLanguage(currentStore(state).locale);
  }, [state.stores, state.storeId]);
  useEffect(() => { document.title = `${t(onCounter ? 'counter' : 'dashboard')} · ${t('app')}`; }, [onCounter, state.lang]);

  return (
    <>
      <a class="skip" href="#main">{t('skip')}</a>
      <header class="top">
        <div class="bar">
          <strong class="brand">{t('app')}</strong>
          <nav aria-label={t('app')}>
            <NavLink href="/" current={!onCounter}>{t('dashboard')}</NavLink>
            <NavLink href="/counter" current={onCounter}>{t('counter')}</NavLink>
          </nav>
          <LanguageSwitch lang={state.lang} label={t('language')} />
        </div>
        <div class="bar">
          {session.paired ? <StorePicker /> : null}
          <SyncBadge />
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {!session.paired ? <Pair allowKey={!onCounter} />
          : !state.storeId ? <StoreList stores={state.stores} />
            : onCounter ? <Counter key={state.storeId} /> : <Dashboard key={state.storeId} />}
        {session.paired ? <DeviceSettings /> : null}
      </main>
    </>
  );
}
