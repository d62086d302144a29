"""What the demo registers before its day of traffic: a kiryana store's assortment and a chain of
shops, so that margins, low-stock alerts with suggested orders, days of cover and the dashboard
show what they would in a real shop (the names, prices and suppliers are typical, not a brand list)."""
from __future__ import annotations

from decimal import Decimal

from schemas.catalog import Pack, Product, Store

# sku, English, Urdu, Roman Urdu, category, supplier, unit, packs, cost, price, reorder point, lead days
_ROWS: list[tuple] = [
    ("rice-basmati-loose", "Basmati rice (loose)", "باسمتی چاول", "basmati chawal", "grains", "Akbari Mandi", "kg", [("bori", 25)], "340", "380", 20, 2),
    ("rice-sella-loose", "Sella rice (loose)", "سیلا چاول", "sela chawal", "grains", "Akbari Mandi", "kg", [("bori", 25)], "300", "340", 15, 2),
    ("atta-loose", "Wheat flour (loose)", "آٹا", "atta", "grains", "Chakki Atta Mills", "kg", [("bori", 20)], "110", "125", 30, 1),
    ("sugar-loose", "Sugar (loose)", "چینی", "cheeni", "grains", "Akbari Mandi", "kg", [("bori", 50)], "150", "165", 25, 2),
    ("daal-chana-loose", "Chana daal (loose)", "چنے کی دال", "chane ki daal", "pulses", "Akbari Mandi", "kg", [("bori", 25)], "260", "300", 8, 3),
    ("daal-masoor-loose", "Masoor daal (loose)", "مسور کی دال", "masoor ki daal", "pulses", "Akbari Mandi", "kg", [("bori", 25)], "280", "320", 8, 3),
    ("daal-moong-loose", "Moong daal (loose)", "مونگ کی دال", "moong ki daal", "pulses", "Akbari Mandi", "kg", [("bori", 25)], "300", "340", 6, 3),
    ("besan-loose", "Gram flour (loose)", "بیسن", "besan", "grains", "Akbari Mandi", "kg", [("bori", 20)], "240", "280", 5, 3),
    ("onion-loose", "Onions (loose)", "پیاز", "pyaz", "vegetables", "Sabzi Mandi", "kg", [("bori", 40)], "120", "150", 15, 1),
    ("potato-loose", "Potatoes (loose)", "آلو", "aloo", "vegetables", "Sabzi Mandi", "kg", [("bori", 50)], "90", "110", 15, 1),
    ("salt-800g", "Iodised salt 800 g", "نمک", "namak", "spices", "Metro Cash & Carry", "piece", [("carton", 24)], "55", "65", 12, 4),
    ("chilli-powder-200g", "Red chilli powder 200 g", "لال مرچ", "laal mirch", "spices", "Metro Cash & Carry", "piece", [("carton", 24)], "300", "340", 6, 4),
    ("haldi-200g", "Turmeric powder 200 g", "ہلدی", "haldi", "spices", "Metro Cash & Carry", "piece", [("carton", 24)], "260", "300", 6, 4),
    ("biryani-masala-50g", "Biryani masala 50 g", "بریانی مصالحہ", "biryani masala", "spices", "Metro Cash & Carry", "piece", [("carton", 12)], "130", "150", 12, 4),
    ("cooking-oil-1l", "Cooking oil 1 litre pouch", "کوکنگ آئل", "khane ka tel", "oil and ghee", "Metro Cash & Carry", "piece", [("carton", 12)], "560", "600", 12, 3),
    ("ghee-1kg", "Banaspati ghee 1 kg", "گھی", "ghee", "oil and ghee", "Metro Cash & Carry", "piece", [("carton", 12)], "570", "615", 12, 3),
    ("tapal-danedar-190g", "Tapal Danedar tea 190 g", "ٹپال دانےدار چائے", "chai patti danedar", "tea", "Tapal distributor", "piece", [("carton", 48)], "380", "420", 12, 5),
    ("lipton-190g", "Lipton Yellow Label tea 190 g", "لپٹن چائے", "lipton chai", "tea", "Unilever distributor", "piece", [("carton", 48)], "390", "430", 12, 5),
    ("milk-uht-1l", "UHT milk 1 litre", "دودھ", "doodh", "dairy", "Nestle distributor", "piece", [("carton", 12)], "290", "310", 24, 2),
    ("eggs", "Eggs", "انڈے", "anday", "dairy", "Poultry farm", "piece", [("tray", 30), ("dozen", 12)], "30", "33", 60, 1),
    ("bread-large", "Bread, large loaf", "ڈبل روٹی", "double roti", "bakery", "Bakery", "piece", [], "180", "200", 10, 1),
    ("soap-lux-98g", "Beauty soap 98 g", "صابن لکس", "sabun lux", "personal care", "Unilever distributor", "piece", [("carton", 72)], "150", "170", 24, 5),
    ("soap-lifebuoy-98g", "Lifebuoy soap 98 g", "لائف بوائے صابن", "sabun lifebuoy", "personal care", "Unilever distributor", "piece", [("carton", 72)], "130", "150", 24, 5),
    ("shampoo-180ml", "Shampoo 180 ml", "شیمپو", "shampoo", "personal care", "Unilever distributor", "piece", [("carton", 24)], "420", "460", 6, 5),
    ("toothpaste-100g", "Toothpaste 100 g", "ٹوتھ پیسٹ", "manjan", "personal care", "Metro Cash & Carry", "piece", [("carton", 48)], "240", "270", 8, 5),
    ("surf-500g", "Washing powder 500 g", "سرف", "surf", "household", "Unilever distributor", "piece", [("carton", 24)], "420", "460", 8, 5),
    ("dishwash-bar", "Dishwash bar", "برتن دھونے کی ٹکیا", "bartan sabun", "household", "Unilever distributor", "piece", [("carton", 48)], "90", "100", 12, 5),
    ("matchbox", "Matchbox", "ماچس", "machis", "household", "Metro Cash & Carry", "piece", [("packet", 10)], "8", "10", 30, 4),
    ("biscuit-sooper", "Sooper biscuits, half roll", "سوپر بسکٹ", "sooper biscuit", "snacks", "Peek Freans distributor", "piece", [("carton", 24)], "55", "60", 24, 3),
    ("biscuit-prince", "Prince biscuits, half roll", "پرنس بسکٹ", "prince biscuit", "snacks", "LU distributor", "piece", [("carton", 24)], "50", "55", 24, 3),
    ("chips-masala", "Masala chips", "مصالحہ چپس", "masala chips", "snacks", "PepsiCo distributor", "piece", [("carton", 36)], "60", "70", 24, 3),
    ("noodles-masala", "Instant noodles, masala", "نوڈلز", "noodles", "snacks", "Nestle distributor", "piece", [("carton", 24)], "55", "60", 24, 3),
    ("cola-1500ml", "Cola 1.5 litre", "کولا", "cold drink", "drinks", "PepsiCo distributor", "piece", [("carton", 6)], "200", "220", 12, 2),
    ("water-1500ml", "Mineral water 1.5 litre", "منرل واٹر", "pani ki botal", "drinks", "Nestle distributor", "piece", [("carton", 6)], "90", "100", 12, 2),
    ("custard-300g", "Custard powder 300 g", "کسٹرڈ", "custard", "baking", "Metro Cash & Carry", "piece", [("carton", 24)], "180", "200", 6, 5),
    ("dates-500g", "Dates 500 g", "کھجور", "khajoor", "dry fruit", "Akbari Mandi", "piece", [("carton", 20)], "450", "520", 6, 4),
]

_CITIES = ["lahore", "karachi", "islamabad", "rawalpindi", "faisalabad", "multan", "peshawar", "quetta", "hyderabad", "sialkot"]
_SHOPS = ["Madina General Store", "Al-Rehman Kiryana", "Bismillah Store", "Data Kiryana Merchants", "Bilal Super Store",
          "Noor Karyana", "Ittefaq General Store", "Usman Traders", "Sadiq Kiryana", "New Punjab Store", "Makkah Mart",
          "Hafiz Grocers", "Awami Store"]


def _ean13(n: int) -> str:
    """A valid EAN-13 in the range GS1 gives Pakistan (896), made from a running number."""
    body = f"896{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def products() -> list[Product]:
    out = []
    for i, (sku, name, ur, roman, category, supplier, unit, packs, cost, price, reorder, lead) in enumerate(_ROWS):
        point = Decimal(reorder)
        out.append(Product(
            sku=sku, name=name, names={"ur": ur, "ur-Latn": roman}, barcodes=[_ean13(1000 + i)], category=category,
            supplier=supplier, unit=unit, packs=[Pack(unit=u, size=Decimal(s)) for u, s in packs],
            cost=Decimal(cost), price=Decimal(price), reorder_point=point, reorder_min=point, reorder_max=point * 4,
            lead_time_days=lead,
        ))
    return out


def stores(count: int) -> list[Store]:
    """``count`` shops across Pakistan's cities (ids like ``lahore-001``), every other one in Urdu."""
    out = []
    for i in range(count):
        city = _CITIES[i % len(_CITIES)]
        name = f"{_SHOPS[i % len(_SHOPS)]}, {city.title()}"
        out.append(Store(store_id=f"{city}-{i + 1:03d}", name=name, timezone="Asia/Karachi", currency="PKR",
                         locale="ur-PK" if i % 2 else "en-PK"))
    return out
