// English and Urdu strings, the language switch (Urdu lays the page out right to left) and the
// Intl formatting of money, quantities and dates for the store's locale and currency.

const en = {
  app: 'Bazaar', dashboard: 'Dashboard', counter: 'Counter', store: 'Store', language: 'Language',
  online: 'Online', offline: 'Offline', waiting_n: '{n} waiting', store_id_prompt: 'Store id',
  choose_store: 'Choose a store', use_store: 'Open', no_stores: 'No stores are registered yet.',
  // counter
  mode: 'What are you recording?', sale: 'Sale', purchase: 'Goods received', adjustment: 'Adjustment', count: 'Stock count', return: 'Return', transfer: 'Transfer',
  find: 'Find product: name, sku or barcode', find_hint: 'A scanner types the barcode and Enter.',
  no_match: 'No product matches “{q}”.', catalog_n: 'Catalog: {n} products', catalog_saved: 'saved {at}',
  catalog_none: 'The catalog is not on this phone yet: connect once to load it.', add: 'Add',
  product: 'Product', quantity: 'Quantity', unit: 'Unit', price: 'Price', unit_price: 'Price per {unit}',
  unit_cost: 'Cost per {unit}', line_total: 'Total', remove: 'Remove {name}', counted: 'Counted',
  change: 'Change (+/−)', remove_qty: 'Quantity removed', no_lines: 'No products yet: search above.',
  bill_total: 'Bill total', cost_total: 'Total cost', supplier: 'Supplier', reason: 'Reason',
  reason_damage: 'Damaged', reason_expiry: 'Expired', reason_theft: 'Theft', reason_own_use: 'Own use',
  reason_correction: 'Correction (+/−)', note: 'Note (optional)', clear: 'Clear',
  record_sale: 'Record sale', record_purchase: 'Record goods received', record_adjustment: 'Record adjustment',
  record_count: 'Record count', recorded: 'Recorded {type}: saved on this phone.',
  record_failed: 'This phone could not save the bill: it is still here, try again.',
  err_lines: 'Add at least one product.', err_qty: '{name}: enter a quantity with at most 3 decimals.',
  err_qty_positive: '{name}: the quantity must be more than 0.', err_qty_nonneg: '{name}: the count cannot be negative.',
  err_qty_nonzero: '{name}: the change cannot be 0.', err_price: '{name}: enter a price with at most 2 decimals.',
  err_supplier: 'Enter the supplier.',
  // counter: returns, voids, fat fingers, refused events, cash, receipt, quick keys, camera
  record_return: 'Record return', unit_refund: 'Refund per {unit}', refund_total: 'Refund',
  err_comma: '{name}: a comma here could be a decimal comma. Write 1.5 for one and a half, 1,000 for a thousand.',
  err_qty_max: '{name}: more than 1,000,000 in one line: check the quantity.',
  err_price_max: '{name}: a price above 10,000,000: check the price.',
  confirm_title: 'Check before recording', confirm_qty: '{name}: {qty} {unit} is much more than usual. Is that right?',
  confirm_yes: 'Yes, record it', confirm_fix: 'Change it',
  fix_unit: '{name}: this unit is not known for it. Tap Edit, choose another unit, then record it again.',
  fix_qty: '{name}: the quantity was not accepted. Tap Edit, correct the quantity, then record it again.',
  fix_price: '{name}: the price was not accepted. Tap Edit, correct the price, then record it again.',
  fix_sku: '{name}: this product is not in the shop’s list. Tap Edit and remove it, or ask the owner to add it.',
  fix_line: '{name}: this line was not accepted. Tap Edit, check it, then record it again.',
  fix_time: 'This phone’s date or time is wrong. Set the clock, then tap Edit and record it again.',
  fix_store: 'This shop is not registered yet. Ask the owner, then send it again.',
  fix_other: 'The server did not accept this {type}. Tap Edit to check and record it again, or Delete it.',
  refused_n: '{n} refused', refused_n_one: '1 refused', edit: 'Edit', delete: 'Delete',
  delete_confirm: 'Delete this refused entry? It will not count.', delete_yes: 'Yes, delete',
  cancel_event: 'Cancel', cancel_confirm: 'Cancel this entry? It was not sent yet and will not count.',
  cancel_yes: 'Yes, cancel it', keep: 'Keep it', cancel_late: 'Too late: it is being sent. Use Return or Void.',
  editing: 'Editing a refused entry: correct it, then record it again.', stop_edit: 'Stop editing',
  outbox_fixed: 'Corrected', recent_sales: 'Recent sales on this phone', no_recent: 'No sent sales on this phone yet.',
  return_items: 'Return items', void: 'Void', void_title: 'Void this sale?',
  void_hint: 'For a sale recorded by mistake: its stock comes back and it leaves the day’s sales.',
  void_why: 'Why?', why_wrong_qty: 'Wrong quantity', why_wrong_item: 'Wrong item', why_cancelled: 'Customer cancelled',
  why_other: 'Other mistake', void_yes: 'Yes, void it', voided: 'Voided', void_recorded: 'Sale voided: saved on this phone.',
  returning: 'Returning from the sale of {at}',
  cash: 'Cash received', change_due: 'Change to give', still_due: 'Still to pay',
  quick_keys: 'Most sold', receipt: 'Receipt', print: 'Print', share: 'Share', new_bill: 'New bill',
  bill_no: 'Bill {no}', thanks: 'Thank you!', shared: 'Shared.', share_none: 'This phone cannot share: print it instead.',
  scan_camera: 'Scan with camera', scan_stop: 'Stop camera', camera_error: 'The camera could not start.',
  scan_no_match: 'No product has barcode {code}.', scanned: 'Added {name}.',
  // outbox
  outbox: 'Sync', outbox_waiting: 'Waiting to send', outbox_synced: 'Sent', outbox_rejected: 'Refused by the server',
  outbox_empty: 'Nothing waiting.', dismiss: 'Dismiss', sync_now: 'Send now', lines_n: '{n} lines', lines_n_one: '1 line',
  last_sync: 'Last sent {at}', sync_auth: 'Pairing needed: events wait on this phone until the server accepts it.',
  // dashboard
  alerts: 'Alerts', no_alerts: 'No active alerts.', ack: 'Acknowledge', acked: 'Acknowledged',
  kind_low_stock: 'Low stock', kind_out_of_stock: 'Out of stock', kind_negative_stock: 'Negative stock',
  kind_running_out: 'Running out', on_hand: 'On hand', reorder_point: 'Reorder point',
  suggested: 'Suggested order', days_cover: '{n} days of cover', live: 'live', reconnecting: 'reconnecting…',
  sales_today: 'Today’s sales', not_available: 'Not available yet.', sales_total: 'Total',
  sales_count: 'Sales', items_sold: 'Items', stock: 'Stock', search_stock: 'Search stock',
  filter: 'Show', f_all: 'All', f_low: 'Low', f_negative: 'Negative', load_more: 'Load more',
  updated: 'Updated', no_stock: 'Nothing to show.', movements: 'Movements', movements_of: 'Movements of {name}',
  pick_product: 'Choose a product in the stock list.', no_movements: 'No movements.',
  load_error: 'Could not load: {reason}', offline_data: 'Offline: showing what was saved.',
  when: 'When', type: 'Type', refresh: 'Refresh', last_count: 'last count {at}', negative: 'negative', low: 'low',
  // dashboard: margin, per-unit totals, chart values, saved data's age, reorder, acks, voids
  margin: 'Margin', margin_pct: '{pct}% of sales', cost_unknown_n: 'cost unknown for {n} lines', cost_unknown_n_one: 'cost unknown for 1 line',
  sold_today: 'Sold today', chart_caption: 'Sales of the last 7 days', day: 'Day', saved_ago: 'Offline: saved {ago}',
  reorder_h: 'To order', reorder_none: 'Nothing is at its reorder point.', no_supplier: 'No supplier named',
  from_purchase: 'from the last purchase', export_csv: 'Export CSV', order_qty: 'Order', acked_h: 'Acknowledged',
  acked_by: 'Acknowledged by {name}, {at}', acked_anon: 'Acknowledged {at}', voids_h: 'Voids today', no_voids: 'No voids today.',
  v_applied: 'applied', v_flagged: 'flagged: check it', v_sale: 'sale {id}', close_moves: 'Close',
  // units
  u_piece: 'pcs', u_kg: 'kg', u_g: 'g', u_litre: 'L', u_ml: 'ml', u_carton: 'carton', u_dozen: 'dozen',
  u_pack: 'pack', u_box: 'box', u_bag: 'bag',
  u_carton_other: 'cartons', u_pack_other: 'packs', u_box_other: 'boxes', u_bag_other: 'bags',
  // pairing and this device
  pair_title: 'Pair this device',
  pair_intro: 'Ask the shop owner or manager for a pairing code: 8 letters and digits, good once, for a few minutes.',
  pair_code: 'Pairing code', device_name: 'Name of this device (optional)', pair: 'Pair', pairing: 'Pairing…',
  err_code_format: 'A pairing code has 8 letters and digits.',
  err_invalid_code: 'This code is not valid: check it, or ask for a new one.',
  err_code_used: 'This code has already been used: ask for a new one.',
  err_code_expired: 'This code has expired (a code lasts a few minutes): ask for a new one.',
  err_pair_offline: 'Pairing needs a connection: connect to the internet and try again.',
  err_rate_limited: 'Too many tries: wait {n} seconds, then try again.',
  err_rate_limited_one: 'Too many tries: wait a second, then try again.',
  err_server: 'The server could not do this now ({status}): try again.',
  or_key: 'Owner: use an API key instead', api_key: 'API key', use_key: 'Use this key',
  err_key_format: 'An API key starts with bzk_: paste all of it.',
  err_key_refused: 'This key is not valid, or it was revoked.',
  err_key_offline: 'Checking a key needs a connection: connect to the internet and try again.',
  revoked: 'This device’s key was revoked: pair it again.',
  kept_n: '{n} events are kept on this device and will be sent once it is paired.',
  kept_n_one: '1 event is kept on this device and will be sent once it is paired.',
  settings: 'Settings', this_device: 'This device', paired_as: 'Paired as', role: 'Role',
  stores_label: 'Stores', all_stores: 'All stores',
  role_admin: 'Administrator', role_owner: 'Owner', role_manager: 'Manager', role_cashier: 'Cashier',
  role_terminal: 'Counter terminal', role_analyst: 'Analyst', role_ops: 'Operations',
  unpair: 'Sign out / unpair', unpair_confirm: 'Unpair this device? It will need a new pairing code.',
  unpair_yes: 'Yes, unpair', cancel: 'Cancel',
  unpair_waiting: '{n} events still wait to be sent: they stay on this device until it is paired again.',
  unpair_waiting_one: '1 event still waits to be sent: it stays on this device until it is paired again.',
  forbidden: 'This device’s key may not see this.',
  outbox_held: 'Not allowed with this device’s key',
  outbox_held_hint: 'Kept on this device: sent again when it is paired with a key that may record them.',
  modes_none: 'This device’s key may not record anything here.',
  skip: 'Skip to content',
};

const ur = {
  app: 'بازار', dashboard: 'ڈیش بورڈ', counter: 'کاؤنٹر', store: 'دکان', language: 'زبان',
  online: 'آن لائن', offline: 'آف لائن', waiting_n: '{n} منتظر', store_id_prompt: 'دکان کی شناخت',
  choose_store: 'دکان منتخب کریں', use_store: 'کھولیں', no_stores: 'ابھی کوئی دکان درج نہیں۔',
  mode: 'آپ کیا درج کر رہے ہیں؟', sale: 'فروخت', purchase: 'مال کی آمد', adjustment: 'ردوبدل', count: 'اسٹاک گنتی', return: 'واپسی', transfer: 'منتقلی',
  find: 'چیز تلاش کریں: نام، SKU یا بارکوڈ', find_hint: 'اسکینر بارکوڈ لکھ کر Enter دباتا ہے۔',
  no_match: '“{q}” سے کوئی چیز نہیں ملی۔', catalog_n: 'فہرست: {n} اشیاء', catalog_saved: '{at} کو محفوظ',
  catalog_none: 'فہرست ابھی اس فون پر نہیں: ایک بار انٹرنیٹ سے جڑیں۔', add: 'شامل کریں',
  product: 'چیز', quantity: 'مقدار', unit: 'اکائی', price: 'قیمت', unit_price: 'قیمت فی {unit}',
  unit_cost: 'لاگت فی {unit}', line_total: 'کل', remove: '{name} ہٹائیں', counted: 'گنتی',
  change: 'تبدیلی (+/−)', remove_qty: 'نکالی گئی مقدار', no_lines: 'ابھی کوئی چیز نہیں: اوپر تلاش کریں۔',
  bill_total: 'بل کی کل رقم', cost_total: 'کل لاگت', supplier: 'سپلائر', reason: 'وجہ',
  reason_damage: 'خراب', reason_expiry: 'میعاد ختم', reason_theft: 'چوری', reason_own_use: 'ذاتی استعمال',
  reason_correction: 'درستی (+/−)', note: 'نوٹ (اختیاری)', clear: 'صاف کریں',
  record_sale: 'فروخت درج کریں', record_purchase: 'آمد درج کریں', record_adjustment: 'ردوبدل درج کریں',
  record_count: 'گنتی درج کریں', recorded: '{type} درج ہو گئی: اس فون پر محفوظ ہے۔',
  record_failed: 'یہ فون بل محفوظ نہ کر سکا: بل یہیں ہے، دوبارہ کوشش کریں۔',
  err_lines: 'کم از کم ایک چیز شامل کریں۔', err_qty: '{name}: زیادہ سے زیادہ 3 اعشاریہ کے ساتھ مقدار لکھیں۔',
  err_qty_positive: '{name}: مقدار 0 سے زیادہ ہو۔', err_qty_nonneg: '{name}: گنتی منفی نہیں ہو سکتی۔',
  err_qty_nonzero: '{name}: تبدیلی 0 نہیں ہو سکتی۔', err_price: '{name}: زیادہ سے زیادہ 2 اعشاریہ کے ساتھ قیمت لکھیں۔',
  err_supplier: 'سپلائر کا نام لکھیں۔',
  record_return: 'واپسی درج کریں', unit_refund: 'واپسی رقم فی {unit}', refund_total: 'واپسی کی رقم',
  err_comma: '{name}: یہاں کوما اعشاریہ بھی ہو سکتا ہے۔ ڈیڑھ کے لیے 1.5 لکھیں، ایک ہزار کے لیے 1,000۔',
  err_qty_max: '{name}: ایک سطر میں 1,000,000 سے زیادہ: مقدار دیکھیں۔',
  err_price_max: '{name}: قیمت 10,000,000 سے زیادہ: قیمت دیکھیں۔',
  confirm_title: 'درج کرنے سے پہلے دیکھ لیں', confirm_qty: '{name}: {qty} {unit} معمول سے بہت زیادہ ہے۔ کیا یہ درست ہے؟',
  confirm_yes: 'ہاں، درج کریں', confirm_fix: 'تبدیل کریں',
  fix_unit: '{name}: یہ اکائی اس چیز کے لیے معلوم نہیں۔ ترمیم دبائیں، دوسری اکائی چنیں، پھر دوبارہ درج کریں۔',
  fix_qty: '{name}: مقدار قبول نہیں ہوئی۔ ترمیم دبائیں، مقدار درست کریں، پھر دوبارہ درج کریں۔',
  fix_price: '{name}: قیمت قبول نہیں ہوئی۔ ترمیم دبائیں، قیمت درست کریں، پھر دوبارہ درج کریں۔',
  fix_sku: '{name}: یہ چیز دکان کی فہرست میں نہیں۔ ترمیم دبا کر اسے ہٹائیں، یا مالک سے شامل کروائیں۔',
  fix_line: '{name}: یہ سطر قبول نہیں ہوئی۔ ترمیم دبائیں، دیکھیں، پھر دوبارہ درج کریں۔',
  fix_time: 'اس فون کی تاریخ یا وقت غلط ہے۔ گھڑی درست کریں، پھر ترمیم دبا کر دوبارہ درج کریں۔',
  fix_store: 'یہ دکان ابھی درج نہیں۔ مالک سے پوچھیں، پھر دوبارہ بھیجیں۔',
  fix_other: 'سرور نے یہ {type} قبول نہیں کی۔ ترمیم دبا کر دیکھیں اور دوبارہ درج کریں، یا حذف کریں۔',
  refused_n: '{n} رد شدہ', refused_n_one: '1 رد شدہ', edit: 'ترمیم', delete: 'حذف کریں',
  delete_confirm: 'یہ رد شدہ اندراج حذف کریں؟ یہ شمار نہیں ہوگا۔', delete_yes: 'ہاں، حذف کریں',
  cancel_event: 'منسوخ کریں', cancel_confirm: 'یہ اندراج منسوخ کریں؟ یہ ابھی بھیجا نہیں گیا اور شمار نہیں ہوگا۔',
  cancel_yes: 'ہاں، منسوخ کریں', keep: 'رہنے دیں', cancel_late: 'دیر ہو گئی: یہ بھیجا جا رہا ہے۔ واپسی یا منسوخی استعمال کریں۔',
  editing: 'رد شدہ اندراج میں ترمیم: درست کریں، پھر دوبارہ درج کریں۔', stop_edit: 'ترمیم بند کریں',
  outbox_fixed: 'درست کیے گئے', recent_sales: 'اس فون کی حالیہ فروخت', no_recent: 'اس فون سے ابھی کوئی فروخت نہیں بھیجی گئی۔',
  return_items: 'چیزیں واپس لیں', void: 'کالعدم', void_title: 'یہ فروخت کالعدم کریں؟',
  void_hint: 'غلطی سے درج فروخت کے لیے: اس کا اسٹاک واپس آ جائے گا اور یہ آج کی فروخت سے نکل جائے گی۔',
  void_why: 'کیوں؟', why_wrong_qty: 'غلط مقدار', why_wrong_item: 'غلط چیز', why_cancelled: 'گاہک نے منسوخ کیا',
  why_other: 'کوئی اور غلطی', void_yes: 'ہاں، کالعدم کریں', voided: 'کالعدم', void_recorded: 'فروخت کالعدم: اس فون پر محفوظ ہے۔',
  returning: '{at} کی فروخت سے واپسی',
  cash: 'وصول شدہ نقد', change_due: 'واپس دینے ہیں', still_due: 'ابھی باقی',
  quick_keys: 'سب سے زیادہ بکنے والی', receipt: 'رسید', print: 'پرنٹ کریں', share: 'بھیجیں', new_bill: 'نیا بل',
  bill_no: 'بل {no}', thanks: 'شکریہ!', shared: 'بھیج دی گئی۔', share_none: 'یہ فون بھیج نہیں سکتا: پرنٹ کر لیں۔',
  scan_camera: 'کیمرے سے اسکین کریں', scan_stop: 'کیمرا بند کریں', camera_error: 'کیمرا شروع نہیں ہو سکا۔',
  scan_no_match: 'بارکوڈ {code} کی کوئی چیز نہیں۔', scanned: '{name} شامل ہو گئی۔',
  outbox: 'ہم آہنگی', outbox_waiting: 'بھیجنے کے منتظر', outbox_synced: 'بھیج دیے گئے', outbox_rejected: 'سرور نے رد کیے',
  outbox_empty: 'کچھ منتظر نہیں۔', dismiss: 'ہٹا دیں', sync_now: 'ابھی بھیجیں', lines_n: '{n} سطریں', lines_n_one: '1 سطر',
  last_sync: 'آخری بار بھیجا {at}', sync_auth: 'جوڑنا درکار: سرور کی اجازت تک اندراجات اس فون پر منتظر رہیں گے۔',
  alerts: 'انتباہات', no_alerts: 'کوئی فعال انتباہ نہیں۔', ack: 'تسلیم کریں', acked: 'تسلیم شدہ',
  kind_low_stock: 'اسٹاک کم', kind_out_of_stock: 'اسٹاک ختم', kind_negative_stock: 'اسٹاک منفی',
  kind_running_out: 'جلد ختم ہونے والا', on_hand: 'موجود', reorder_point: 'دوبارہ آرڈر کی حد',
  suggested: 'تجویز کردہ آرڈر', days_cover: '{n} دن کا اسٹاک', live: 'براہ راست', reconnecting: 'دوبارہ جڑ رہا ہے…',
  sales_today: 'آج کی فروخت', not_available: 'ابھی دستیاب نہیں۔', sales_total: 'کل',
  sales_count: 'فروختیں', items_sold: 'اشیاء', stock: 'اسٹاک', search_stock: 'اسٹاک تلاش کریں',
  filter: 'دکھائیں', f_all: 'سب', f_low: 'کم', f_negative: 'منفی', load_more: 'مزید دکھائیں',
  updated: 'تازہ کاری', no_stock: 'دکھانے کو کچھ نہیں۔', movements: 'آمد و رفت', movements_of: '{name} کی آمد و رفت',
  pick_product: 'اسٹاک کی فہرست میں سے کوئی چیز منتخب کریں۔', no_movements: 'کوئی آمد و رفت نہیں۔',
  load_error: 'لوڈ نہیں ہو سکا: {reason}', offline_data: 'آف لائن: محفوظ شدہ معلومات۔',
  when: 'وقت', type: 'قسم', refresh: 'تازہ کریں', last_count: 'آخری گنتی {at}', negative: 'منفی', low: 'کم',
  margin: 'منافع', margin_pct: 'فروخت کا {pct}٪', cost_unknown_n: '{n} لائنوں کی لاگت معلوم نہیں', cost_unknown_n_one: 'ایک لائن کی لاگت معلوم نہیں',
  sold_today: 'آج بکا', chart_caption: 'پچھلے 7 دن کی فروخت', day: 'دن', saved_ago: 'آف لائن: {ago} محفوظ کیا گیا',
  reorder_h: 'منگوانا ہے', reorder_none: 'کوئی چیز دوبارہ منگوانے کی حد پر نہیں۔', no_supplier: 'سپلائر درج نہیں',
  from_purchase: 'پچھلی خریداری سے', export_csv: 'CSV فائل', order_qty: 'منگوائیں', acked_h: 'تسلیم شدہ',
  acked_by: '{name} نے تسلیم کیا، {at}', acked_anon: 'تسلیم کیا گیا، {at}', voids_h: 'آج کی منسوخیاں', no_voids: 'آج کوئی منسوخی نہیں۔',
  v_applied: 'لاگو', v_flagged: 'نشان زد: جانچ کریں', v_sale: 'فروخت {id}', close_moves: 'بند کریں',
  u_piece: 'عدد', u_kg: 'کلو', u_g: 'گرام', u_litre: 'لیٹر', u_ml: 'ملی لیٹر', u_carton: 'کارٹن', u_dozen: 'درجن',
  u_pack: 'پیک', u_box: 'ڈبہ', u_bag: 'بوری',
  pair_title: 'اس آلے کو جوڑیں',
  pair_intro: 'دکان کے مالک یا مینیجر سے جوڑنے کا کوڈ لیں: 8 حروف اور ہندسے، صرف ایک بار، چند منٹ کے لیے۔',
  pair_code: 'جوڑنے کا کوڈ', device_name: 'اس آلے کا نام (اختیاری)', pair: 'جوڑیں', pairing: 'جوڑا جا رہا ہے…',
  err_code_format: 'جوڑنے کا کوڈ 8 حروف اور ہندسوں کا ہوتا ہے۔',
  err_invalid_code: 'یہ کوڈ درست نہیں: اسے دوبارہ دیکھیں یا نیا کوڈ لیں۔',
  err_code_used: 'یہ کوڈ پہلے ہی استعمال ہو چکا ہے: نیا کوڈ لیں۔',
  err_code_expired: 'اس کوڈ کی میعاد ختم ہو گئی (کوڈ چند منٹ چلتا ہے): نیا کوڈ لیں۔',
  err_pair_offline: 'جوڑنے کے لیے انٹرنیٹ درکار ہے: انٹرنیٹ سے جڑ کر دوبارہ کوشش کریں۔',
  err_rate_limited: 'بہت زیادہ کوششیں: {n} سیکنڈ رکیں، پھر دوبارہ کوشش کریں۔',
  err_rate_limited_one: 'بہت زیادہ کوششیں: ایک سیکنڈ رکیں، پھر دوبارہ کوشش کریں۔',
  err_server: 'سرور ابھی یہ نہیں کر سکا ({status}): دوبارہ کوشش کریں۔',
  or_key: 'مالک: اس کے بجائے API کلید استعمال کریں', api_key: 'API کلید', use_key: 'یہ کلید استعمال کریں',
  err_key_format: 'API کلید bzk_ سے شروع ہوتی ہے: پوری چسپاں کریں۔',
  err_key_refused: 'یہ کلید درست نہیں، یا منسوخ کر دی گئی ہے۔',
  err_key_offline: 'کلید جانچنے کے لیے انٹرنیٹ درکار ہے: انٹرنیٹ سے جڑ کر دوبارہ کوشش کریں۔',
  revoked: 'اس آلے کی کلید منسوخ کر دی گئی ہے: اسے دوبارہ جوڑیں۔',
  kept_n: '{n} اندراجات اس آلے پر محفوظ ہیں اور جوڑنے کے بعد بھیجے جائیں گے۔',
  kept_n_one: '1 اندراج اس آلے پر محفوظ ہے اور جوڑنے کے بعد بھیجا جائے گا۔',
  settings: 'ترتیبات', this_device: 'یہ آلہ', paired_as: 'کس نام سے جڑا ہے', role: 'کردار',
  stores_label: 'دکانیں', all_stores: 'تمام دکانیں',
  role_admin: 'منتظم', role_owner: 'مالک', role_manager: 'مینیجر', role_cashier: 'کیشیئر',
  role_terminal: 'کاؤنٹر ٹرمینل', role_analyst: 'تجزیہ کار', role_ops: 'آپریشنز',
  unpair: 'سائن آؤٹ / جوڑ ختم کریں', unpair_confirm: 'کیا اس آلے کا جوڑ ختم کریں؟ اسے نیا کوڈ درکار ہوگا۔',
  unpair_yes: 'ہاں، جوڑ ختم کریں', cancel: 'منسوخ',
  unpair_waiting: '{n} اندراجات ابھی بھیجے جانے کے منتظر ہیں: دوبارہ جوڑنے تک یہ اس آلے پر رہیں گے۔',
  unpair_waiting_one: '1 اندراج ابھی بھیجے جانے کا منتظر ہے: دوبارہ جوڑنے تک یہ اس آلے پر رہے گا۔',
  forbidden: 'اس آلے کی کلید کو یہ دیکھنے کی اجازت نہیں۔',
  outbox_held: 'اس آلے کی کلید سے اجازت نہیں',
  outbox_held_hint: 'اس آلے پر محفوظ ہیں: ایسی کلید سے جوڑنے پر دوبارہ بھیجے جائیں گے جسے انہیں درج کرنے کی اجازت ہو۔',
  modes_none: 'اس آلے کی کلید سے یہاں کچھ درج کرنے کی اجازت نہیں۔',
  skip: 'مواد پر جائیں',
};

export const LANGUAGES = { en: { name: 'English', dir: 'ltr', strings: en }, ur: { name: 'اردو', dir: 'rtl', strings: ur } };

/** `key` in `lang` with {placeholders} filled; falls back to English, then to the key. */
export function translate(lang, key, vars) {
  if (vars && typeof vars.n === 'number') {
    const plural = `${key}_${new Intl.PluralRules(lang in LANGUAGES ? lang : 'en').select(vars.n)}`;
    if (LANGUAGES[lang]?.strings[plural] ?? en[plural]) key = plural;
  }
  const text = LANGUAGES[lang]?.strings[key] ?? en[key] ?? key;
  return vars ? text.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? `{${k}}`)) : text;
}

/** A unit's name: base units and common packs are translated, other pack names shown as given. */
export function unitName(lang, unit, count) {
  if (!unit) return '';
  const strings = LANGUAGES[lang]?.strings ?? en;
  if (count !== undefined) {
    const form = new Intl.PluralRules(lang in LANGUAGES ? lang : 'en').select(Number(count));
    const plural = strings[`u_${unit}_${form}`];
    if (plural) return plural;
  }
  return strings[`u_${unit}`] ?? en[`u_${unit}`] ?? unit;
}

/** Formatting locale: the interface language with the store's region ("ur" + "en-PK" -> "ur-PK"). */
export function localeFor(lang, storeLocale = 'en-PK') {
  const region = /[-_]([A-Za-z]{2}|\d{3})\b/.exec(storeLocale || '')?.[1]?.toUpperCase();
  const base = storeLocale?.split(/[-_]/)[0];
  const tag = lang === base || !region ? storeLocale || lang : `${lang}-${region}`;
  try { return Intl.getCanonicalLocales(tag)[0]; } catch { return lang; }
}

/** Set lang and dir on <html>: Urdu lays everything out right to left. */
export function applyLanguage(lang) {
  const info = LANGUAGES[lang] ?? LANGUAGES.en;
  document.documentElement.lang = lang in LANGUAGES ? lang : 'en';
  document.documentElement.dir = info.dir;
}

// ---- formatting (decimal strings go to Intl as strings: exact, never through a float) ----------

const cache = new Map();
function nf(locale, options) {
  const key = `${locale}|${JSON.stringify(options)}`;
  if (!cache.has(key)) cache.set(key, new Intl.NumberFormat(locale, options));
  return cache.get(key);
}

export function formatMoney(value, currency, locale) {
  return nf(locale, { style: 'currency', currency: currency || 'PKR', minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(String(value));
}

export function formatNumber(value, locale, maxFraction = 3) {
  return nf(locale, { maximumFractionDigits: maxFraction }).format(String(value));
}

export function formatQty(value, unit, lang, locale) {
  const n = formatNumber(value, locale);
  return unit ? `${n} ${unitName(lang, unit, value)}` : n;
}

export function formatDateTime(iso, locale, timeZone) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(d);
  } catch {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
  }
}

export function formatTime(iso, locale, timeZone) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  try { return new Intl.DateTimeFormat(locale, { timeStyle: 'short', timeZone }).format(d); } catch { return d.toISOString(); }
}
