"""Vocabularies of the demo data: people, companies, countries, job titles, pages.

Kept apart from the generator so the realism (international names, titles typed every way, firmographics)
can be read and extended without touching the sampling code. Nothing here is random: the generator picks
from these lists with its seeded streams.
"""

from __future__ import annotations

import re
import unicodedata

FIRST_NAMES = (
    "Ada", "Adrian", "Aisha", "Alejandro", "Alice", "Amara", "Amelia", "Ana", "Andrea", "Anika", "Arjun",
    "Astrid", "Beatriz", "Ben", "Bianca", "Camille", "Carlos", "Chen", "Chloe", "Chris", "Clara", "Daniel",
    "Dana", "David", "Diego", "Elena", "Elif", "Emeka", "Emily", "Emma", "Erik", "Fatima", "Felix",
    "Fernanda", "Finn", "Francesca", "Gabriel", "Grace", "Hana", "Hannah", "Hiroshi", "Ingrid", "Isabel",
    "Ivan", "Jack", "James", "Jana", "Javier", "Jin", "João", "Jonas", "Jordan", "José", "Julia", "Kai",
    "Karim", "Kenji", "Laura", "Lea", "Leon", "Lina", "Lucas", "Lucía", "Luis", "Maja", "Marco", "Maria",
    "Mateo", "Matteo", "Maya", "Mehmet", "Mia", "Michael", "Mohammed", "Nadia", "Nia", "Nikhil", "Noah",
    "Nora", "Olivia", "Omar", "Oscar", "Paula", "Pedro", "Priya", "Rafael", "Rahul", "Riya", "Robert",
    "Rosa", "Ryan", "Sakura", "Samir", "Sara", "Sebastian", "Sofia", "Søren", "Sophie", "Tariq", "Theo",
    "Thomas", "Tomás", "Valentina", "Victor", "Wei", "Yara", "Yusuf", "Zoë",
)

LAST_NAMES = (
    "Abe", "Adeyemi", "Ahmed", "Alvarez", "Andersen", "Bauer", "Becker", "Bernard", "Bianchi", "Brown",
    "Castillo", "Chen", "Costa", "Da Silva", "Dubois", "Eriksson", "Fernández", "Fischer", "Garcia",
    "Gonzalez", "Gupta", "Hansen", "Hernández", "Hoffmann", "Horvat", "Ibrahim", "Ito", "Jansen", "Johnson",
    "Jones", "Kaur", "Khan", "Kim", "Kowalski", "Kumar", "Larsen", "Laurent", "Lee", "Lopez", "Martin",
    "Martínez", "Meyer", "Miller", "Moreau", "Müller", "Murphy", "Nakamura", "Nguyen", "Nielsen", "Novak",
    "O'Brien", "Okafor", "Oliveira", "Patel", "Pereira", "Petrov", "Quinn", "Ramos", "Reddy", "Ricci",
    "Rodriguez", "Rossi", "Santos", "Sato", "Schmidt", "Schneider", "Sharma", "Silva", "Singh", "Smith",
    "Sousa", "Suzuki", "Tanaka", "Taylor", "Thomas", "Van Dijk", "Wagner", "Walker", "Wang", "Weber",
    "Williams", "Wilson", "Wójcik", "Yamamoto", "Yilmaz", "Zhang", "Zimmermann",
)

# Company names are "<word> <noun>" pairs; every pair is a distinct company, so domains never collide.
COMPANY_WORDS = (
    "Acorn", "Alder", "Amber", "Anchor", "Apex", "Arbor", "Aspen", "Atlas", "Aurora", "Beacon", "Birch",
    "Blue", "Bolt", "Bright", "Brook", "Cascade", "Cedar", "Cinder", "Clear", "Cobalt", "Comet", "Copper",
    "Coral", "Crest", "Delta", "Drift", "Ember", "Evergreen", "Falcon", "Fern", "Fjord", "Flint", "Forge",
    "Fox", "Garnet", "Glacier", "Granite", "Harbor", "Hazel", "Helix", "Horizon", "Indigo", "Iron", "Juniper",
    "Kestrel", "Lantern", "Lark", "Linden", "Lumen", "Maple", "Meadow", "Mesa", "Meridian", "Nimbus",
    "Northwind", "Oak", "Onyx", "Orbit", "Osprey", "Pine", "Pioneer", "Polar", "Prairie", "Quartz", "Raven",
    "Redwood", "Ridge", "River", "Sable", "Sage", "Sierra", "Silver", "Slate", "Sparrow", "Spruce", "Summit",
    "Tidal", "Timber", "Topaz", "Tundra", "Vale", "Vertex", "Willow", "Zephyr",
)
COMPANY_NOUNS = (
    "Analytics", "Bank", "Bio", "Brands", "Capital", "Cloud", "Commerce", "Data", "Dynamics", "Energy",
    "Foods", "Freight", "Games", "Health", "Insights", "Insurance", "Labs", "Learning", "Logistics",
    "Media", "Metrics", "Mobility", "Networks", "Pay", "Pharma", "Retail", "Robotics", "Security",
    "Software", "Studio", "Systems", "Technologies", "Telecom", "Travel", "Ventures", "Works",
)
# Appended (in name and domain) only when a demo needs more companies than word x noun pairs.
COMPANY_QUALIFIERS = (
    "Group", "Partners", "Holdings", "International", "Digital", "Collective", "Industries", "Global",
)

INDUSTRIES = (
    "Software", "Financial Services", "Healthcare", "Retail", "Manufacturing", "Education", "Media",
    "Logistics", "Telecommunications", "Energy", "Insurance", "Consulting", "Travel & Hospitality",
    "Government", "Non-profit",
)

# (country, share of companies, country top-level domain, legal suffix used in CRM names, title language)
COUNTRIES = (
    ("United States", 0.44, ".com", "Inc.", "en"),
    ("United Kingdom", 0.10, ".co.uk", "Ltd", "en"),
    ("Germany", 0.10, ".de", "GmbH", "de"),
    ("France", 0.07, ".fr", "SAS", "fr"),
    ("Canada", 0.05, ".ca", "Inc.", "en"),
    ("Netherlands", 0.04, ".nl", "B.V.", "en"),
    ("Spain", 0.04, ".es", "S.L.", "es"),
    ("Brazil", 0.04, ".com.br", "Ltda.", "es"),
    ("Australia", 0.04, ".com.au", "Pty Ltd", "en"),
    ("India", 0.04, ".in", "Pvt. Ltd.", "en"),
    ("Sweden", 0.04, ".se", "AB", "en"),
)
GENERIC_TLDS = (".com", ".io", ".ai", ".co")

FREE_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "proton.me", "icloud.com")
FREE_MAIL_SHARES = (0.48, 0.12, 0.14, 0.08, 0.08, 0.10)

TEAM_NAMES = ("Data", "Engineering", "Marketing", "Ops", "Finance", "Growth", "Platform", "EMEA", "Research")

# Job titles as people type them. Buyers can sign (VP, Director, Head, C-level, IT, procurement);
# champions run a team and pull colleagues in; practitioners use the product.
BUYER_TITLES = (
    "VP Engineering", "VP of Engineering", "Vice President, Data", "VP Product", "VP, Finance",
    "Head of Data", "Head of Engineering", "Head of Analytics", "Head of IT", "Interim Head of Product",
    "Sr. Director, IT", "Director of IT", "IT Director", "Director, Data Platform", "Director of Procurement",
    "CTO", "Chief Technology Officer", "CIO", "CISO", "Chief Information Security Officer",
    "Chief Financial Officer", "CFO", "Chief Data Officer", "COO", "CEO", "Founder & CEO", "Co-founder",
    "Procurement Manager", "IT Manager", "Sr. Mgr, IT Procurement",
)
CHAMPION_TITLES = (
    "Engineering Manager", "Team Lead", "Analytics Manager", "Data Engineering Lead", "Staff Engineer",
    "Product Manager", "Principal Engineer", "Data Team Lead", "Platform Lead", "Manager, BI",
    "Lead Data Scientist", "Tech Lead",
)
PRACTITIONER_TITLES = (
    "Senior Software Engineer", "Software Engineer", "Data Analyst", "Senior Data Analyst", "Data Scientist",
    "Analytics Engineer", "BI Developer", "marketing coordinator", "Product Designer", "Growth Marketer",
    "Account Executive", "Customer Success Manager", "Operations Analyst", "Business Analyst",
    "Junior Developer", "Intern", "Student", "consultant", "DevOps Engineer", "SRE", "QA Engineer",
    "Financial Analyst", "Sales Ops Specialist", "Executive Assistant", "Full Stack Developer",
)
# Titles in the language of the company's country, used for a share of people outside English markets.
LOCAL_TITLES = {
    "de": {
        "buyer": ("Geschäftsführer", "Leiter IT", "CTO", "Bereichsleiter Daten", "Einkaufsleiter"),
        "champion": ("Teamleiter Entwicklung", "Teamleiterin Data"),
        "practitioner": ("Softwareentwickler", "Datenanalystin", "Werkstudent"),
    },
    "fr": {
        "buyer": (
            "Directeur Technique", "Directrice des Systèmes d'Information", "DSI", "Responsable Achats",
        ),
        "champion": ("Chef de projet", "Responsable Data"),
        "practitioner": ("Ingénieur logiciel", "Analyste de données", "Développeuse"),
    },
    "es": {
        "buyer": ("Gerente de TI", "Director de Tecnología", "Jefe de Compras", "Directora Financiera"),
        "champion": ("Líder de equipo", "Gerente de Producto"),
        "practitioner": ("Analista de Datos", "Desarrollador", "Ingeniera de Software"),
    },
}

# Product pages that are not an evaluation signal: (page name, path).
OTHER_PAGES = (("Docs", "/docs"), ("Blog", "/blog"), ("Changelog", "/changelog"), ("Home", "/"))

OWNER_EMAIL_DOMAIN = "pls-demo.io"

_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "ł": "l", "Ł": "L", "đ": "d"})
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def ascii_slug(text: str, separator: str = "") -> str:
    """'Søren O'Brien' -> 'sorenobrien': email local parts and domains are ASCII, names are not."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore").decode("ascii")
    return _NON_SLUG.sub(separator, folded.lower()).strip(separator)
