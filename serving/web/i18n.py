"""Text of the analyst pages in English and Dutch, and numbers written the local way.

Every string a page shows comes from :data:`MESSAGES` through :func:`translate`; a test
checks that both languages have the same keys and that every key a template uses exists.
Feature descriptions come from the feature registry (English); :data:`FEATURE_TEXT_NL`
gives their Dutch wording.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

Language = Literal["en", "nl"]
LANGUAGES: tuple[Language, ...] = ("en", "nl")
DEFAULT_LANGUAGE: Language = "en"

MESSAGES: dict[Language, dict[str, str]] = {
    "en": {
        "app.name": "sponsorwatch",
        "app.tagline": "Risk ranking of recognised sponsors, for human review",
        "nav.skip": "Skip to content",
        "nav.main": "Main",
        "nav.ranking": "Ranking",
        "nav.model": "Model",
        "nav.sign_out": "Sign out",
        "nav.signed_in_as": "Signed in with key {key_id} ({role})",
        "lang.label": "Language",
        "lang.switch": "Switch",
        "lang.en": "English",
        "lang.nl": "Nederlands",
        "signin.title": "Sign in",
        "signin.intro": "Sign in with your analyst key. Scores rank sponsors for a human "
                        "review; they never sanction by themselves. Every sponsor you open "
                        "is recorded in the audit trail.",
        "signin.key": "Analyst key",
        "signin.key_help": "The key issued to you, starting with sw_",
        "signin.submit": "Sign in",
        "signin.bad_key": "This key is unknown or has been revoked.",
        "signin.throttled": "Too many failed sign-ins from here; try again in a few "
                            "minutes.",
        "signin.wrong_role": "This key may not use the analyst pages (role {role}).",
        "signin.signed_out": "You have signed out.",
        "signin.expired": "Please sign in to continue.",
        "form.csrf": "The form had expired; please try again.",
        "list.title": "Ranking",
        "list.as_of": "Scores as of {as_of}, model {version}",
        "list.filters": "Filter the ranking",
        "list.search": "Name or KvK number",
        "list.sector": "Sector",
        "list.band": "Band",
        "list.any": "Any",
        "list.postcode": "Postcode area",
        "list.postcode_help": "First 1 to 4 digits",
        "list.min_score": "Score from",
        "list.max_score": "Score to",
        "list.score_help": "Between 0 and 1",
        "list.reviewed": "Reviewed",
        "list.reviewed_yes": "Reviewed",
        "list.reviewed_no": "Not reviewed",
        "list.sort": "Sort by",
        "list.order": "Order",
        "list.order_asc": "Ascending",
        "list.order_desc": "Descending",
        "list.page_size": "Rows per page",
        "list.apply": "Apply",
        "list.reset": "Clear filters",
        "list.count": "{total} sponsors match",
        "list.page": "Page {page} of {pages}",
        "list.previous": "Previous page",
        "list.next": "Next page",
        "list.pages": "Pages",
        "list.none": "No sponsor matches these filters.",
        "list.export": "Export this list",
        "list.export_csv": "CSV",
        "list.export_xlsx": "Excel (xlsx)",
        "list.bad_filter": "Ignored {field}: {problem}",
        "list.caption": "Sponsors by risk, highest first",
        "col.rank": "Rank",
        "col.name": "Sponsor",
        "col.sponsor_id": "KvK number",
        "col.sector": "Sector",
        "col.postcode4": "Postcode",
        "col.score": "Score",
        "col.band": "Band",
        "col.top_reason": "Top reason",
        "col.reviewed": "Review",
        "band.high": "High",
        "band.elevated": "Elevated",
        "band.normal": "Normal",
        "decision.inspect": "Inspect",
        "decision.dismiss": "Dismiss",
        "sponsor.rank": "Rank {rank} of {total}",
        "sponsor.meaning": "About {n} in {d} sponsors with this score were found in violation "
                           "when inspected.",
        "sponsor.meaning_low": "Fewer than 1 in 100 sponsors with this score were found in "
                               "violation when inspected.",
        "sponsor.not_a_verdict": "A score is a reason to look, not a finding.",
        "sponsor.reasons": "Why this score",
        "sponsor.reasons_caption": "The features that raised this sponsor's score most",
        "sponsor.no_reasons": "No feature raised this score above the average.",
        "sponsor.reason": "Reason",
        "sponsor.value": "This sponsor",
        "sponsor.typical": "Typical (median of all sponsors)",
        "sponsor.push": "Push on the score",
        "sponsor.profile": "Profile",
        "sponsor.history": "Score over time",
        "sponsor.history_desc": "The score of this sponsor in each snapshot.",
        "sponsor.wages": "Wages against the salary criterion",
        "sponsor.wages_desc": "Each migrant's paid gross wage per month (pseudonymised keys) "
                              "and the salary criterion in force that month, as known on "
                              "{as_of}.",
        "sponsor.wages_none": "No payroll filings of migrants known in the last 24 months.",
        "sponsor.wages_limited": "Showing the {shown} migrants with the lowest wage against "
                                 "the criterion, of {total}.",
        "sponsor.below": "below the criterion",
        "sponsor.turnover": "Hires and departures",
        "sponsor.turnover_desc": "Migrants whose pay started or stopped, per quarter.",
        "sponsor.hires": "Hires",
        "sponsor.departures": "Departures",
        "sponsor.delays": "Filing and notification delays",
        "sponsor.delays_desc": "Days from the end of each payroll month to its first filing, "
                               "and from each reported change to its notice (deadline {days} "
                               "days).",
        "sponsor.filing_delay": "Payroll filing delay (days, median per month)",
        "sponsor.notice_delay": "Notice delay (days)",
        "sponsor.deadline": "Notice deadline",
        "sponsor.no_data": "No data.",
        "sponsor.inspections": "Past inspections",
        "sponsor.no_inspections": "No past inspections.",
        "sponsor.reviews": "Reviews",
        "sponsor.no_reviews": "Not reviewed yet.",
        "sponsor.review_form": "Record a review",
        "sponsor.decision": "Decision",
        "sponsor.note": "Note",
        "sponsor.decided_on": "Decided on",
        "sponsor.decided_on_help": "Leave empty for today",
        "sponsor.record": "Record review",
        "sponsor.review_saved": "Review recorded.",
        "sponsor.outcome_saved": "Outcome recorded.",
        "sponsor.outcome_form": "Record the outcome",
        "sponsor.outcome": "Outcome",
        "sponsor.closed_on": "Closed on",
        "sponsor.findings": "Findings",
        "sponsor.fine": "Fine (euro)",
        "sponsor.save_outcome": "Save outcome",
        "sponsor.data_table": "Show the figures as a table",
        "sponsor.not_found": "Sponsor {sponsor_id} is not in the ranking of {as_of}.",
        "col.inspection_id": "Inspection",
        "col.opened_on": "Opened",
        "col.closed_on": "Closed",
        "col.selection": "Selection",
        "col.outcome": "Outcome",
        "col.findings": "Findings",
        "col.fine": "Fine",
        "col.decided_on": "Decided",
        "col.decision": "Decision",
        "col.note": "Note",
        "col.key": "Key",
        "col.date": "Date",
        "col.month": "Month",
        "col.quarter": "Quarter",
        "col.migrant": "Migrant",
        "col.wage": "Wage",
        "col.criterion": "Criterion",
        "col.days": "Days",
        "col.kind": "Kind",
        "model.title": "Model",
        "model.none": "No model is loaded: {problem}",
        "model.version": "Version",
        "model.name": "Name",
        "model.source": "Loaded from",
        "model.loaded_at": "Loaded at",
        "model.run": "Training run",
        "model.window": "Training window",
        "model.first_snapshot": "First snapshot",
        "model.last_snapshot": "Last snapshot",
        "model.snapshots": "Snapshots",
        "model.horizon": "Horizon (months)",
        "model.train_until": "Trained until",
        "model.metrics": "Metrics on the holdout",
        "model.metric": "Metric",
        "model.value": "Value",
        "model.no_metrics": "No metrics recorded.",
        "model.fairness": "Fairness",
        "model.no_fairness": "No fairness audit is recorded with this model (no model card "
                             "in the card cache).",
        "model.fairness_scope": "Top {k} of {sponsors} sponsors on the held-out snapshot "
                                "{as_of}.",
        "model.fairness_gate": "Fairness gate ({metric} ratio at least {ratio}):",
        "model.passed": "passed",
        "model.refused": "refused",
        "model.by_group": "By {grouping}",
        "model.proxy": "The features predict the nationality mix with balanced accuracy "
                       "{accuracy} (chance {chance}) and macro AUC {auc} (chance 0.5).",
        "model.bias_scan": "Bias scan: {clusters} cluster(s) selected at least twice as often "
                           "as average.",
        "col.group": "Group",
        "col.sponsors": "Sponsors",
        "col.share_selected": "Share selected",
        "col.ratio": "Ratio to best",
        "col.fpr": "False positive rate",
        "col.fpr_ratio": "FPR ratio",
        "model.card": "Model card",
        "model.card_link": "Read the model card",
        "model.card_none": "No model card is cached for this model yet; `sponsorwatch "
                           "model-card --version {version}` fetches it from its "
                           "training run.",
        "model.card_api": "Systems read the same card as JSON at /v1/model/card "
                          "(with an API key).",
        "model.features": "Features the model uses",
        "model.feature": "Feature",
        "model.description": "Description",
        "model.unit": "Unit",
        "model.snapshot": "Served snapshot",
        "model.snapshot_text": "{sponsors} sponsors scored as of {as_of} (model {version})",
        "error.title": "Something is missing",
        "error.no_snapshot": "No score snapshot is loaded: {problem}",
        "value.missing": "missing",
        "value.yes": "yes",
        "value.no": "no",
        "unit.days": "{value} days",
        "unit.months": "{value} months",
        "unit.years": "{value} years",
    },
    "nl": {
        "app.name": "sponsorwatch",
        "app.tagline": "Risicorangschikking van erkend referenten, voor menselijke beoordeling",
        "nav.skip": "Naar de inhoud",
        "nav.main": "Hoofdmenu",
        "nav.ranking": "Rangschikking",
        "nav.model": "Model",
        "nav.sign_out": "Afmelden",
        "nav.signed_in_as": "Aangemeld met sleutel {key_id} ({role})",
        "lang.label": "Taal",
        "lang.switch": "Wissel",
        "lang.en": "English",
        "lang.nl": "Nederlands",
        "signin.title": "Aanmelden",
        "signin.intro": "Meld u aan met uw analistensleutel. Scores ordenen referenten voor "
                        "menselijke beoordeling; ze leiden nooit zelf tot een sanctie. Elke "
                        "referent die u opent, wordt vastgelegd in het auditlogboek.",
        "signin.key": "Analistensleutel",
        "signin.key_help": "De sleutel die u kreeg, begint met sw_",
        "signin.submit": "Aanmelden",
        "signin.bad_key": "Deze sleutel is onbekend of ingetrokken.",
        "signin.throttled": "Te veel mislukte aanmeldingen vanaf hier; probeer het over "
                            "een paar minuten opnieuw.",
        "signin.wrong_role": "Deze sleutel mag de analistenpagina's niet gebruiken (rol {role}).",
        "signin.signed_out": "U bent afgemeld.",
        "signin.expired": "Meld u aan om verder te gaan.",
        "form.csrf": "Het formulier was verlopen; probeer het opnieuw.",
        "list.title": "Rangschikking",
        "list.as_of": "Scores per {as_of}, model {version}",
        "list.filters": "Rangschikking filteren",
        "list.search": "Naam of KvK-nummer",
        "list.sector": "Sector",
        "list.band": "Klasse",
        "list.any": "Alle",
        "list.postcode": "Postcodegebied",
        "list.postcode_help": "Eerste 1 tot 4 cijfers",
        "list.min_score": "Score vanaf",
        "list.max_score": "Score tot en met",
        "list.score_help": "Tussen 0 en 1",
        "list.reviewed": "Beoordeeld",
        "list.reviewed_yes": "Beoordeeld",
        "list.reviewed_no": "Niet beoordeeld",
        "list.sort": "Sorteren op",
        "list.order": "Volgorde",
        "list.order_asc": "Oplopend",
        "list.order_desc": "Aflopend",
        "list.page_size": "Rijen per pagina",
        "list.apply": "Toepassen",
        "list.reset": "Filters wissen",
        "list.count": "{total} referenten voldoen",
        "list.page": "Pagina {page} van {pages}",
        "list.previous": "Vorige pagina",
        "list.next": "Volgende pagina",
        "list.pages": "Pagina's",
        "list.none": "Geen referent voldoet aan deze filters.",
        "list.export": "Deze lijst exporteren",
        "list.export_csv": "CSV",
        "list.export_xlsx": "Excel (xlsx)",
        "list.bad_filter": "{field} genegeerd: {problem}",
        "list.caption": "Referenten naar risico, hoogste eerst",
        "col.rank": "Positie",
        "col.name": "Referent",
        "col.sponsor_id": "KvK-nummer",
        "col.sector": "Sector",
        "col.postcode4": "Postcode",
        "col.score": "Score",
        "col.band": "Klasse",
        "col.top_reason": "Belangrijkste reden",
        "col.reviewed": "Beoordeling",
        "band.high": "Hoog",
        "band.elevated": "Verhoogd",
        "band.normal": "Normaal",
        "decision.inspect": "Inspecteren",
        "decision.dismiss": "Afwijzen",
        "sponsor.rank": "Positie {rank} van {total}",
        "sponsor.meaning": "Ongeveer {n} op {d} referenten met deze score bleken bij inspectie "
                           "in overtreding.",
        "sponsor.meaning_low": "Minder dan 1 op 100 referenten met deze score bleken bij "
                               "inspectie in overtreding.",
        "sponsor.not_a_verdict": "Een score is een reden om te kijken, geen bevinding.",
        "sponsor.reasons": "Waarom deze score",
        "sponsor.reasons_caption": "De kenmerken die de score van deze referent het meest "
                                   "verhoogden",
        "sponsor.no_reasons": "Geen kenmerk verhoogde deze score boven het gemiddelde.",
        "sponsor.reason": "Reden",
        "sponsor.value": "Deze referent",
        "sponsor.typical": "Gebruikelijk (mediaan van alle referenten)",
        "sponsor.push": "Effect op de score",
        "sponsor.profile": "Profiel",
        "sponsor.history": "Score door de tijd",
        "sponsor.history_desc": "De score van deze referent in elke momentopname.",
        "sponsor.wages": "Lonen tegenover het salariscriterium",
        "sponsor.wages_desc": "Het betaalde brutoloon per maand van elke kennismigrant "
                              "(gepseudonimiseerde sleutels) en het salariscriterium dat die "
                              "maand gold, zoals bekend op {as_of}.",
        "sponsor.wages_none": "Geen loonaangiften van migranten bekend in de laatste 24 maanden.",
        "sponsor.wages_limited": "De {shown} migranten met het laagste loon ten opzichte van "
                                 "het criterium, van de {total}.",
        "sponsor.below": "onder het criterium",
        "sponsor.turnover": "Instroom en uitstroom",
        "sponsor.turnover_desc": "Migranten van wie de betaling begon of stopte, per kwartaal.",
        "sponsor.hires": "Instroom",
        "sponsor.departures": "Uitstroom",
        "sponsor.delays": "Vertraging van aangiften en meldingen",
        "sponsor.delays_desc": "Dagen van het einde van elke loonmaand tot de eerste aangifte, "
                               "en van elke wijziging tot de melding ervan (termijn {days} "
                               "dagen).",
        "sponsor.filing_delay": "Vertraging loonaangifte (dagen, mediaan per maand)",
        "sponsor.notice_delay": "Vertraging melding (dagen)",
        "sponsor.deadline": "Meldingstermijn",
        "sponsor.no_data": "Geen gegevens.",
        "sponsor.inspections": "Eerdere inspecties",
        "sponsor.no_inspections": "Geen eerdere inspecties.",
        "sponsor.reviews": "Beoordelingen",
        "sponsor.no_reviews": "Nog niet beoordeeld.",
        "sponsor.review_form": "Beoordeling vastleggen",
        "sponsor.decision": "Besluit",
        "sponsor.note": "Toelichting",
        "sponsor.decided_on": "Besloten op",
        "sponsor.decided_on_help": "Leeg laten voor vandaag",
        "sponsor.record": "Beoordeling vastleggen",
        "sponsor.review_saved": "Beoordeling vastgelegd.",
        "sponsor.outcome_saved": "Uitkomst vastgelegd.",
        "sponsor.outcome_form": "Uitkomst vastleggen",
        "sponsor.outcome": "Uitkomst",
        "sponsor.closed_on": "Afgesloten op",
        "sponsor.findings": "Bevindingen",
        "sponsor.fine": "Boete (euro)",
        "sponsor.save_outcome": "Uitkomst opslaan",
        "sponsor.data_table": "Toon de cijfers als tabel",
        "sponsor.not_found": "Referent {sponsor_id} staat niet in de rangschikking van {as_of}.",
        "col.inspection_id": "Inspectie",
        "col.opened_on": "Geopend",
        "col.closed_on": "Afgesloten",
        "col.selection": "Selectie",
        "col.outcome": "Uitkomst",
        "col.findings": "Bevindingen",
        "col.fine": "Boete",
        "col.decided_on": "Besloten",
        "col.decision": "Besluit",
        "col.note": "Toelichting",
        "col.key": "Sleutel",
        "col.date": "Datum",
        "col.month": "Maand",
        "col.quarter": "Kwartaal",
        "col.migrant": "Migrant",
        "col.wage": "Loon",
        "col.criterion": "Criterium",
        "col.days": "Dagen",
        "col.kind": "Soort",
        "model.title": "Model",
        "model.none": "Er is geen model geladen: {problem}",
        "model.version": "Versie",
        "model.name": "Naam",
        "model.source": "Geladen uit",
        "model.loaded_at": "Geladen op",
        "model.run": "Trainingsrun",
        "model.window": "Trainingsperiode",
        "model.first_snapshot": "Eerste momentopname",
        "model.last_snapshot": "Laatste momentopname",
        "model.snapshots": "Momentopnamen",
        "model.horizon": "Horizon (maanden)",
        "model.train_until": "Getraind tot",
        "model.metrics": "Prestaties op de toetsset",
        "model.metric": "Maat",
        "model.value": "Waarde",
        "model.no_metrics": "Geen prestaties vastgelegd.",
        "model.fairness": "Eerlijkheid",
        "model.no_fairness": "Bij dit model is geen eerlijkheidstoets vastgelegd.",
        "model.fairness_scope": "Top {k} van {sponsors} referenten op de toetsmomentopname "
                                "{as_of}.",
        "model.fairness_gate": "Eerlijkheidstoets ({metric}-verhouding minstens {ratio}):",
        "model.passed": "geslaagd",
        "model.refused": "afgewezen",
        "model.by_group": "Naar {grouping}",
        "model.proxy": "De kenmerken voorspellen de nationaliteitsmix met gebalanceerde "
                       "nauwkeurigheid {accuracy} (kans {chance}) en macro-AUC {auc} (kans 0,5).",
        "model.bias_scan": "Biasscan: {clusters} cluster(s) minstens twee keer zo vaak "
                           "geselecteerd als gemiddeld.",
        "col.group": "Groep",
        "col.sponsors": "Referenten",
        "col.share_selected": "Aandeel geselecteerd",
        "col.ratio": "Verhouding tot beste",
        "col.fpr": "Fout-positieffractie",
        "col.fpr_ratio": "FPR-verhouding",
        "model.card": "Modelkaart",
        "model.card_link": "Lees de modelkaart",
        "model.card_none": "Voor dit model is nog geen modelkaart opgeslagen; "
                           "`sponsorwatch model-card --version {version}` haalt hem "
                           "op uit de trainingsrun.",
        "model.card_api": "Systemen lezen dezelfde kaart als JSON op /v1/model/card "
                          "(met een API-sleutel).",
        "model.features": "Kenmerken die het model gebruikt",
        "model.feature": "Kenmerk",
        "model.description": "Omschrijving",
        "model.unit": "Eenheid",
        "model.snapshot": "Getoonde momentopname",
        "model.snapshot_text": "{sponsors} referenten gescoord per {as_of} (model {version})",
        "error.title": "Er ontbreekt iets",
        "error.no_snapshot": "Er is geen momentopname van scores geladen: {problem}",
        "value.missing": "ontbreekt",
        "value.yes": "ja",
        "value.no": "nee",
        "unit.days": "{value} dagen",
        "unit.months": "{value} maanden",
        "unit.years": "{value} jaar",
    },
}

#: Dutch wording of the feature registry's descriptions (English lives in the registry).
FEATURE_TEXT_NL: dict[str, str] = {
    "salary_below_threshold_share":
        "Aandeel migrantmaanden van de laatste 12 maanden betaald onder het salariscriterium",
    "salary_ratio_median":
        "Mediaan van betaald loon gedeeld door het salariscriterium, laatste 12 maanden",
    "salary_ratio_lowest":
        "Laagste mediaan van loon gedeeld door het criterium van één migrant (12 maanden)",
    "salary_bunching_share":
        "Aandeel migranten betaald tot 3% boven het salariscriterium (12 maanden)",
    "salary_paid_vs_declared":
        "Mediaan van betaald loon gedeeld door het loon opgegeven in de aanvraag",
    "declared_ratio_median":
        "Mediaan van opgegeven loon gedeeld door het criterium, aanvragen van 36 maanden",
    "declared_bunching_share":
        "Aandeel aanvragen van 36 maanden met een opgegeven loon tot 3% boven het criterium",
    "salary_no_raise_share":
        "Aandeel migranten dat niet meer verdient dan 12 maanden eerder",
    "salary_tracks_threshold_share":
        "Aandeel migranten van wie het loon alleen meebewoog met het criterium (12 maanden)",
    "hourly_wage_ratio_median":
        "Mediaan van loon per betaald uur gedeeld door het criterium per contractuur "
        "(12 maanden)",
    "hourly_below_threshold_share":
        "Aandeel migrantmaanden met een loon per betaald uur onder dat van het criterium",
    "hours_paid_vs_contract":
        "Mediaan van betaalde uren gedeeld door contracturen (week x 52/12), 12 maanden",
    "hours_excess_share":
        "Aandeel migrantmaanden met meer dan 10% meer betaalde uren dan het contract",
    "salary_identical_share":
        "Aandeel migrantmaanden met precies hetzelfde loon als een andere migrant die maand",
    "other_staff_wage_vs_criterion":
        "Gemiddeld loon van het overige (niet-migranten)personeel gedeeld door het "
        "salariscriterium van de migranten (12 maanden)",
    "other_staff_wage_bill_vs_criterion":
        "Maandelijkse lonen van het overige (niet-migranten)personeel, in veelvouden van het "
        "salariscriterium van de migranten (12 maanden)",
    "permits_12m_per_headcount":
        "Vergunningaanvragen in 12 maanden per werknemer op de laatste loonaangifte",
    "permits_36m_per_headcount":
        "Vergunningaanvragen in 36 maanden per werknemer op de laatste loonaangifte",
    "permits_36m": "Vergunningaanvragen in de laatste 36 maanden",
    "permit_refusal_share_36m":
        "Aandeel aanvragen beslist in 36 maanden dat werd afgewezen of ingetrokken",
    "early_leaver_share_6m":
        "Aandeel migranten gestart in 36 maanden dat binnen 6 maanden vertrok",
    "early_leaver_share_12m":
        "Aandeel migranten gestart in 36 maanden dat binnen 12 maanden vertrok",
    "tenure_median_months":
        "Mediaan van de maanden sinds de start van de huidige migranten",
    "migrants_current": "Migranten op de laatste loonaangifte van de referent",
    "migrant_share_of_workforce":
        "Migranten betaald in de laatste maand gedeeld door het aantal werknemers",
    "migrant_growth_vs_workforce":
        "Log-groei van migranten in 12 maanden min de log-groei van alle werknemers",
    "late_filing_share":
        "Aandeel eerste loonaangiften van 12 maanden ingediend na de maand na het tijdvak",
    "filing_delay_median_days":
        "Mediaan dagen van einde tijdvak tot eerste loonaangifte (12 maanden)",
    "correction_share": "Correcties per migrantmaand in de laatste 12 maanden",
    "unpaid_permit_month_share":
        "Aandeel maanden met een geldige vergunning zonder loonbetaling (12 maanden)",
    "never_paid_permit_share":
        "Aandeel vergunningen van 3 tot 36 maanden oud waarvan de migrant nooit is betaald",
    "workforce_gap_share":
        "Aandeel erkende maanden van de laatste 12 zonder aangifte van werkgeverstotalen",
    "wage_total_inconsistency_share":
        "Aandeel maanden waarin lonen of aantal migranten de werkgeverstotalen overschrijden",
    "unreported_departures_36m":
        "Migranten van wie de betaling in 36 maanden stopte zonder tijdige melding uit dienst",
    "unreported_departure_share":
        "Aandeel vertrekken in 36 maanden zonder melding uit dienst binnen 28 dagen",
    "late_notice_share":
        "Aandeel meldingen over gebeurtenissen van 36 maanden dat meer dan 28 dagen te laat was",
    "notice_delay_median_days":
        "Mediaan dagen van gebeurtenis tot melding, gebeurtenissen van 36 maanden",
    "company_age_years": "Jaren sinds inschrijving in het handelsregister",
    "founding_to_recognition_years":
        "Jaren van inschrijving in het handelsregister tot erkenning als referent",
    "recognition_age_years": "Jaren sinds erkenning als referent",
    "legal_form_code": "Rechtsvorm als code",
    "legal_form_small_business": "1 voor een eenmanszaak of personenvennootschap (VOF, CV)",
    "legal_form_not_for_profit": "1 voor een stichting, vereniging of coöperatie",
    "legal_form_foreign": "1 voor een buitenlandse rechtspersoon",
    "log_headcount": "Natuurlijke log van 1 + werknemers op de laatste loonaangifte",
    "sector_division": "SBI 2008-afdeling (eerste twee cijfers van de code)",
    "sector_section": "SBI 2008-sectie als getal (A=1 .. U=21)",
    "past_inspections": "Inspecties van de referent afgesloten tot deze dag",
    "past_violations": "Inspecties afgesloten met een overtreding tot deze dag",
    "past_fines_eur": "Boetes van inspecties afgesloten tot deze dag",
    "address_shared_with_revoked":
        "Andere referenten op hetzelfde adres van wie de erkenning werd ingetrokken",
    "sponsors_at_address": "Andere erkende referenten (ooit) op hetzelfde adres",
    "officer_shared_with_revoked":
        "Ingetrokken referenten met een gemeenschappelijke bestuurder",
    "officer_other_sponsors": "Andere erkende referenten met een gemeenschappelijke bestuurder",
    "migrant_officers": "Migranten van de referent die ook bestuurder zijn",
}

#: Words for contract codes shown on the pages (outcomes, selections, findings, kinds).
CODE_TEXT: dict[Language, dict[str, str]] = {
    "en": {
        "VIOLATION": "violation", "NO_VIOLATION": "no violation",
        "INCONCLUSIVE": "inconclusive", "OPEN": "open", "RANDOM": "random",
        "RISK_BASED": "risk based", "TIP": "tip", "OTHER": "other",
        "UNDERPAYMENT": "underpayment", "SALARY_REPAYMENT": "salary paid back",
        "NO_GENUINE_JOB": "no genuine job", "NOTIFICATION_FAILURE": "notification failure",
        "ADMINISTRATION_FAILURE": "administration failure",
        "EMPLOYMENT_ENDED": "employment ended", "SALARY_BELOW_CRITERION": "salary below criterion",
        "HOURS_CHANGED": "hours changed", "JOB_CHANGED": "job changed",
        "SPONSOR_CHANGED": "sponsor changed", "inspect": "inspect", "dismiss": "dismiss",
    },
    "nl": {
        "VIOLATION": "overtreding", "NO_VIOLATION": "geen overtreding",
        "INCONCLUSIVE": "geen conclusie", "OPEN": "open", "RANDOM": "steekproef",
        "RISK_BASED": "op risico", "TIP": "tip", "OTHER": "anders",
        "UNDERPAYMENT": "onderbetaling", "SALARY_REPAYMENT": "terugbetaling van loon",
        "NO_GENUINE_JOB": "geen echte baan", "NOTIFICATION_FAILURE": "meldplicht geschonden",
        "ADMINISTRATION_FAILURE": "administratieplicht geschonden",
        "EMPLOYMENT_ENDED": "uit dienst", "SALARY_BELOW_CRITERION": "loon onder criterium",
        "HOURS_CHANGED": "uren gewijzigd", "JOB_CHANGED": "functie gewijzigd",
        "SPONSOR_CHANGED": "referent gewijzigd", "inspect": "inspecteren", "dismiss": "afwijzen",
    },
}


def language_or_default(value: object) -> Language:
    """``value`` when it names a supported language, else the default."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE  # type: ignore[return-value]


def translate(lang: Language, key: str, **values: object) -> str:
    """The text of ``key`` in ``lang`` with ``{name}`` fields filled in.

    Raises:
        KeyError: for an unknown key, so a typo fails the page tests instead of showing.
    """
    text = MESSAGES[lang][key]
    return text.format(**values) if values else text


def translator(lang: Language) -> Callable[..., str]:
    """``t(key, **values)`` for one language, as templates call it."""
    return lambda key, **values: translate(lang, key, **values)


def code_text(lang: Language, code: str | None) -> str:
    """A contract code (outcome, selection, finding, notice kind) in words."""
    if code is None:
        return ""
    return CODE_TEXT[lang].get(code, code.replace("_", " ").lower())


def feature_text(lang: Language, name: str, english: str) -> str:
    """A feature's description in ``lang`` (English from the registry as fallback)."""
    return FEATURE_TEXT_NL.get(name, english) if lang == "nl" else english


def number(value: float | int | None, lang: Language, decimals: int = 0) -> str:
    """``value`` with thousands grouped and the language's decimal mark."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return translate(lang, "value.missing")
    text = f"{value:,.{decimals}f}"
    if lang == "nl":
        text = text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return text


def percent(value: float | None, lang: Language, decimals: int = 0) -> str:
    if value is None or not math.isfinite(value):
        return translate(lang, "value.missing")
    return number(100 * value, lang, decimals) + "%"


def euro(value: float | None, lang: Language) -> str:
    if value is None or not math.isfinite(value):
        return translate(lang, "value.missing")
    return f"€ {number(value, lang, 0)}"


def feature_value(value: float | None, unit: str | None, lang: Language) -> str:
    """A feature value written for people, by its registry unit."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return translate(lang, "value.missing")
    if unit == "share":
        return percent(value, lang)
    if unit == "ratio":
        return number(value, lang, 2) + "×"
    if unit == "euro":
        return euro(value, lang)
    if unit == "flag":
        return translate(lang, "value.yes" if value >= 0.5 else "value.no")
    if unit in ("count", "code"):
        return number(value, lang, 0 if float(value).is_integer() else 1)
    if unit in ("days", "months", "years"):
        return translate(lang, f"unit.{unit}", value=number(value, lang, 0 if unit != "years"
                                                            else 1))
    return number(value, lang, 2)


def calibrated_meaning(score: float, lang: Language) -> str:
    """The score as a frequency: "about 3 in 10 sponsors with this score were found in
    violation" (the score is a calibrated probability of a violation if inspected)."""
    denominator = 10 if 0.095 <= score < 0.95 else 100
    count = round(score * denominator)
    if count < 1:
        return translate(lang, "sponsor.meaning_low")
    return translate(lang, "sponsor.meaning", n=count, d=denominator)
