import { useState } from 'preact/hooks';
import { receipt, receiptText } from '../receipt.js';
import { useI18n } from '../state.js';

/** The last bill's receipt: on screen, printable on an 80 mm roll, shareable as text and a picture. */
export function Receipt({ bill, nameOf, onDone }) {
  const f = useI18n();
  const { t, lang } = f;
  const [note, setNote] = useState('');
  const r = receipt(bill, f, nameOf);
  const text = receiptText(r, t);

  async function share() {
    if (!navigator.share) { setNote(t('share_none')); return; }
    const data = { title: `${r.store} · ${t('bill_no', { no: r.no })}`, text };
    try { // the receipt as a picture too, where the phone can share files
      const { receiptPng } = await import('../receipt-image.js');
      const files = [new File([await receiptPng(r, t, lang)], `receipt-${r.no}.png`, { type: 'image/png' })];
      if (navigator.canShare?.({ files })) data.files = files;
    } catch { /* no canvas here: the text alone */ }
    try {
      await navigator.share(data);
      setNote(t('shared'));
    } catch { /* the person closed the share sheet */ }
  }

  return (
    <section class="card receipt" id="receipt" aria-labelledby="receipt-h" lang={lang} data-text={text}>
      <h2 id="receipt-h">{t('receipt')}</h2>
      <p class="r-store">{r.store}</p>
      <p class="r-meta"><span>{r.when}</span> · <span>{t('bill_no', { no: r.no })}</span></p>
      <table class="r-lines">
        <tbody>
          {r.lines.map((l) => (
            <tr>
              <td>{l.name}<br /><span class="muted small" dir="ltr">{l.qty} × {l.price}</span></td>
              <td class="num" dir="ltr">{l.amount}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr class="r-total"><th scope="row">{t('bill_total')}</th><td class="num" dir="ltr">{r.total}</td></tr>
          {r.cash ? <tr><th scope="row">{t('cash')}</th><td class="num" dir="ltr">{r.cash}</td></tr> : null}
          {r.cash ? <tr><th scope="row">{t('change_due')}</th><td class="num" dir="ltr" id="receipt-change">{r.change}</td></tr> : null}
        </tfoot>
      </table>
      <p class="r-thanks">{t('thanks')}</p>
      <div class="actions no-print">
        <button type="button" id="print" onClick={() => window.print()}>{t('print')}</button>
        <button type="button" id="share" onClick={share}>{t('share')}</button>
        <button type="button" id="new-bill" class="primary" onClick={onDone}>{t('new_bill')}</button>
      </div>
      {note ? <p class="muted no-print" role="status">{note}</p> : null}
    </section>
  );
}
