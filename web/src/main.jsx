import { render } from 'preact';
import { App } from './components/App.jsx';
import { applyLanguage } from './i18n.js';
import { app } from './state.js';
import * as outbox from './outbox.js';
import './style.css';

applyLanguage(app.get().lang);
outbox.start();
render(<App />, document.getElementById('app'));

if ('serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((err) => console.warn('service worker:', err));
  });
}
