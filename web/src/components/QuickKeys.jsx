import { useI18n } from '../state.js';

/** A grid of the store's most sold products: one tap adds one. */
export function QuickKeys({ items, onPick, nameOf }) {
  const { t } = useI18n();
  if (!items.length) return null;
  return (
    <section class="quick" aria-labelledby="quick-h">
      <h2 id="quick-h" class="field-label">{t('quick_keys')}</h2>
      <ul class="quick-grid">
        {items.map((p) => (
          <li><button type="button" class="quick-key" data-sku={p.sku} onClick={() => onPick(p)}>{nameOf(p)}</button></li>
        ))}
      </ul>
    </section>
  );
}
