"""Complaint score for a brand mention: is it a complaint, is it actionable, and why.

VADER alone misses service failures ("I bought this and it doesn't work" scores 0.0), so this adds a
small logistic regression over word n-grams, a hand-written cue lexicon (failure, refusal, no
response, billing, cancellation, delivery, repair, rudeness, outage, venting), a few shape features
and the VADER compound score. Weights ship as JSON (``monitor/data/complaint_model.json``);
inference is pure Python plus vaderSentiment.

Trained and cross-validated on the X-CI complaint sample (Singh et al., ACL 2023, MIT licence,
github.com/appy1608/ACL2023), which extends the complaints corpus of Preotiuc-Pietro, Gaman and
Aletras, "Automatically Identifying Complaints in Social Media", ACL 2019. Training lives in
``monitor.complaint_train``; the method and the measured figures are in docs/complaint.md.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

CATEGORIES = ("failure", "refusal", "no_response", "billing", "cancellation", "delivery", "repair",
              "rudeness", "outage", "other")

# The cue lexicon, written a priori from what customer complaints say (not mined from the data, so
# it generalises past the training sample). Each entry is (label, strong, regex) matched on
# normalised text (see _normalise). A strong cue names a concrete problem and can make a complaint
# specific; a weak one only names the topic ("order", "price") or an emotion. Earlier categories
# win ties when the category of a complaint is chosen.
LEXICON: dict[str, list[tuple[str, bool, str]]] = {
    "outage": [
        ("outage", True, r"\boutages?\b|\bblackout\b|\bpower cut\b"),
        ("down", True, r"\b(?:is|are|was|were|been|went|goes|going|still|it's|site|app|server|servers|system|"
                       r"website|network) (?:\w+ )?down\b|\bdown again\b|\bdown for\b|\b(?:internet|power|service|"
                       r"wifi|cable|tv|phone|network|signal|broadband|electricity) (?:has been |have been |is |was |"
                       r"went |been |keeps going )?out\b"),
        ("offline", True, r"\boffline\b|\blost (?:power|internet|connection|signal|service|network)\b"),
        ("no service", True, r"\bno (?:signal|service|internet|wifi|wi-fi|broadband|power|electricity|network|"
                             r"connection|coverage|data|tv|phone line|dial tone|water|heating|hot water)\b"),
        ("connection drops", True, r"\b(?:internet|wifi|connection|signal|network|broadband) (?:\w+ )?"
                                   r"(?:drop|dropping|cut|cutting|keeps|is off|went off|slow)\w*"),
        ("slow", False, r"\bslow\w*\b|\bbuffering\b|\blag\w*\b"),
    ],
    "cancellation": [
        ("cancel", True, r"\bcancel\w*|\bunsubscrib\w*|\bterminat\w*"),
        ("close account", True, r"\bclos(?:e|ing) (?:my|the) account\b|\bend my (?:contract|subscription)\b"),
        ("switching provider", False, r"\b(?:switch|switching|leaving|moving) (?:to|provider|supplier)\b"),
    ],
    "billing": [
        ("overcharged", True, r"\bover ?charg\w*|\bdouble charg\w*|\bcharged (?:me )?(?:twice|again|for)\b"),
        ("charged", False, r"\bcharg(?:e|es|ed|ing)\b"),
        ("refund", True, r"(?<!got my )(?<!quick )(?<!fast )\brefund\w*|\bmoney back\b|\bmy money\b"),
        ("bill", False, r"\bbill(?:s|ed|ing)?\b|\binvoice\w*|\bdirect debit\b|\bstatement\b"),
        ("payment", False, r"\bpa(?:y|id|ying|yment|yments)\b|\bdebit\w*|\bdeduct\w*|\btaken from my\b"),
        ("price rise", True, r"\b(?:raise[sd]?|increase[sd]?|doubled?|bump(?:ed)?|hike[sd]?|put up)(?: \w+){0,2} "
                             r"(?:prices?|rates?|premiums?|bills?|fares?|costs?)\b|"
                             r"\b(?:prices?|rates?) (?:went )?up\b"),
        ("fees", False, r"\bfees?\b|\bprice (?:increase|hike|rise)\w*|\bsurcharge\b|\btax\b"),
        ("hidden fees", True, r"\bhidden (?:fees?|charges?|costs?)\b|\bextra charges?\b|\boverpriced\b|"
                              r"\bstill charging\b|\bcompensat\w*|\breimburs\w*"),
        ("scam", True, r"\bscam\w*|\brip(?:ped|ping)? ?off\b|\bfleec\w*|\bfraud\w*|\bunauthori[sz]ed\b|"
                       r"\bstol(?:e|en)\b"),
        ("amount", False, r"[$\u00a3\u20ac]\s?\d|\b\d+ ?(?:dollars|pounds|euros|bucks|rs|rupees)\b"),
    ],
    "delivery": [
        ("not arrived", True, r"\b(?:not|never) (?:arrived|received|turned up|showed up|came|delivered|shipped|"
                              r"dispatched)\b|\bwhere is my\b|\bstill (?:waiting for|no sign)\b"),
        ("late", True, r"\blate\b|\bdelay\w*|\bstranded\b|\bmissed (?:my |the )?(?:connection|flight|train)\b|"
                       r"\boverbooked\b|\bbumped (?:off|from)\b"),
        ("lost", True, r"\b(?:lost|misplaced) (?:my|our|the|a) (?:\w+ )?(?:package|parcel|order|luggage|bag|baggage|"
                       r"item|suitcase|delivery|mail|post|letter|card)\b|\bgot lost\b|\bmissing\b|\bstuck in\b|"
                       r"\bwrong (?:address|item|size|order|product|colou?r)\b"),
        ("delivery", False, r"\bdeliver\w*|\bship(?:ping|ped|ment)\b|\bdispatch\w*|\bpackage\b|\bparcel\b|"
                            r"\bcourier\b|\btracking\b|\border(?:ed|s)?\b|\bluggage\b|\bbaggage\b"),
    ],
    "refusal": [
        ("refused", True, r"\brefus\w*|\bdenied\b|\bden(?:y|ies|ying)\b|\breject\w*|\bdeclined\b"),
        ("won't let", True, r"\b(?:will|would) not (?:let|give|refund|replace|honou?r|accept|help|fix|exchange|"
                            r"cover|allow)\b|\bnot allowed\b|\bnot (?:eligible|covered)\b"),
        ("blocked", True, r"\bblocked\b|\bbanned\b|\bsuspended\b|\blocked out\b|\bdisabled my\b"),
    ],
    "no_response": [
        ("no response", True, r"\bno (?:response|reply|replies|answer|callback|call back|update)\b|\bnobody\b|"
                              r"\bno ?one (?:has |have |had |is |will |ever )?(?:answer|respond|repl|help|call|"
                              r"got back|deal|contact|get back|pick)\w*"),
        ("never replied", True, r"\b(?:never|not|still not|have not|has not) (?:heard|replied|responded|got back|"
                                r"called back|answered|been contacted|got a (?:call|reply|response|callback))\b|"
                                r"\black of (?:response|engagement|communication)\b"),
        ("ignored", True, r"\bignor(?:e|ed|es|ing)\b|\bunanswered\b"),
        ("on hold", True, r"\bon hold\b|\bhold music\b|\bvoicemail\w*"),
        ("still waiting", True, r"\bstill waiting\b|\bbeen waiting\b|\bwaiting (?:for|on) (?:a |an |your |my )?"
                                r"(?:reply|response|call|answer|email|callback|update)\b"),
        ("contact attempts", True, r"\b(?:tried|trying|attempted) (?:to )?(?:call|contact|reach|email|speak)\w*|"
                                   r"\b(?:called|emailed|messaged|contacted|rang|chased|tweeted) (?:\w+ ){0,2}"
                                   r"(?:times|twice|again|several|multiple|repeatedly)\b|\bescalat\w*"),
        ("can't get through", True, r"\b(?:cannot|could not) get (?:through|hold of|a hold of|an answer)\b|"
                                    r"\bno way to contact\b"),
        ("waiting", False, r"\bwait(?:ed|ing)\b"),
        ("reply please", False, r"\b(?:reply|respond) to (?:my|me|the)\b|\bplease (?:reply|respond|answer)\b"),
    ],
    "repair": [
        ("repair", False, r"\brepair\w*|\bwarranty\b|\bguarantee\b|\bengineer\w*|\btechnician\b|"
                          r"\bservice cent(?:er|re)\b"),
        ("replacement", False, r"\breplac\w+"),
        ("still broken", True, r"\bstill (?:broken|faulty|not fixed)\b|\b(?:second|third|2nd|3rd|another) "
                               r"(?:replacement|repair|time)\b"),
        ("fix", False, r"\bfix(?:ed|es|ing)?\b"),
    ],
    "rudeness": [
        ("unhelpful", False, r"\bunhelpful\b|\bnot (?:\w+ )?helpful\b"),
        ("rude", True, r"\brude\w*|\bimpolite\b|\bunprofessional\b|\bunfriendly\b|\battitude\b|\barrogant\b"),
        ("yelled", True, r"\byell\w*|\bshout(?:ed|ing)? at\b|\bhung up\b|\bswore at\b|\blaughed at\b|\binsult\w*"),
        ("mistreated", True, r"\bdisrespect\w*|\bcondescending\b|\bpatroni[sz]\w*|\bmistreat\w*|"
                             r"\btreated (?:me |us )?like\b|\bracis\w*|\bdiscriminat\w*|\babusive\b"),
    ],
    "failure": [
        ("doesn't work", True, r"\b(?:not|cannot|never|no longer|stopped|unable to|fail\w* to|refuses? to) (?:\w+ )?"
                               r"(?:work|function|load|open|connect|sync|start|turn on|switch on|charge|boot|play|"
                               r"stream|update|install|download|print|log ?in|login|sign ?in|access|send|receive|"
                               r"pair|scan|run)"),
        ("broken", True, r"\bbrok(?:e|en)\b|\bbreaks\b|\bsmashed\b|\bcracked\b|\bdamaged\b|\bshattered\b|\bripped\b|"
                         r"\btorn\b|\b(?:falls?|fell|falling|shreds?|came|comes|coming) apart\b|\bhole in\b|"
                         r"\bnothing (?:works|is working|worked)\b|\binvalid\b|"
                         r"\bun(?:usable|watchable|reliable|playable|responsive)\b"),
        ("crash", True, r"\bcrash\w*|\bfreez\w*|\bfroze\w*|\bglitch\w*|\bbug(?:s|gy)?\b|\berror\w*|"
                        r"\bmalfunction\w*|\bfault(?:y|s)?\b|\bdefect\w*"),
        ("problem", True, r"(?<!no )(?<!not a )(?<!any )\b(?:problems?|issues?)\b"
                          r"(?! (?:was|were|is|has been) (?:solved|resolved|fixed|sorted))|\btrouble\w*"),
        ("wrong", True, r"\bwrong\b|\bincorrect\b|\bmistake\w*|\bexpired\b|\bstale\b|\bdirty\b|\bfilthy\b|"
                        r"\bmou?ld\w*|\braw\b|\bundercooked\b|\bovercooked\b|\bburnt\b|\bpoor quality\b|\bstained\b"),
        ("not as described", True, r"\bnot (?:what i ordered|as described|as advertised|what was advertised)\b|"
                                   r"\bfood poisoning\b|\bhair in\b|\bcold (?:food|fries|burger|coffee|meal|pizza)\b"),
        ("still not", True, r"\bstill (?:no|not|nothing|have not|has not|broken|waiting)\b"),
        ("not received", True, r"\b(?:have not|has not|did not|not yet) (?:received|got|get|been)\b"),
        ("can't do", True, r"\b(?:cannot|could not)\b(?! (?:wait|believe how))|\bunable to\b|\bnot able to\b|"
                           r"\bimpossible to\b|\bno way to\b"),
        ("dead", True, r"\b(?:died|dies|went dead|rust(?:s|ed|ing|y)|leak\w*|overheat\w*|stuck|flicker\w*|"
                       r"drain\w*)\b"),
        ("out of stock", False, r"\bout of stock\b|\bsold out\b"),
        ("keeps happening", False, r"\bkeeps? (?:on )?\w+ing\b|\bevery (?:single )?time\b|\bconstantly\b"),
    ],
    "venting": [
        ("worst", False, r"\bworst\b|\bterrible\b|\bawful\b|\bhorrible\b|\bhorrendous\b|\bdreadful\b|\bappalling\b|"
                         r"\bshocking\b|\bpathetic\b|\bpoor\b|\bnightmare\b|\bmess\b|\babysmal\b|\bdisgrace\w*"),
        ("sucks", False, r"\bsucks?\b|\bcrap\w*|\bshit\w*|\bwtf\b|\bbullshit\b|\bnonsense\b|\bjoke\b|\bridiculous\b|"
                         r"\bunacceptable\b|\buseless\b|\bincompeten\w*|\bclueless\b|\bliars?\b|\blies\b|\brubbish\b|"
                         r"\bworse\b|\bpissed\b|\bdebacle\b|\bfiasco\b|\bshambles\b|\bfarce\b|\bfuck\w*|\bdamn\w*|"
                         r"\bidiots?\b|\bmorons?\b|\bnot (?:good|great|ok|okay|acceptable|fair)\b"),
        ("disappointed", False, r"\bdisappoint\w*|\bfrustrat\w*|\bannoy\w*|\bdisgust\w*|\bangry\b|\bfurious\b|"
                                r"\blivid\b|\bupset\b|\bfed up\b|\bsick of\b|\btired of\b|\bregret\w*|\bunhappy\b|"
                                r"\bnot happy\b|\bhate\b|\bugh+\b|\bsmh\b|\bembarrass\w*|[:;]'?-?\(|"
                                "[\U0001f620\U0001f621\U0001f624\U0001f612\U0001f644\U0001f44e\U0001f629"
                                "\U0001f62b\U0001f61e\U0001f614\U0001f92c]"),
        ("fail hashtag", False, r"#\w*(?:fail|sucks|worst|nothappy|unhappy|disappointed|angry|never|shame|rubbish|"
                                r"poor|terrible|awful|joke|ripoff|scam|notrecommend|boycott|useless|fuming|furious)\w*"),
        ("never again", False, r"\bnever again\b|\bshame on\b|\bget your act together\b|\bsort it out\b|"
                               r"\bdo better\b|\bno excuse\b|\bthanks for nothing\b|\bavoid\b|\bseriously\b"),
    ],
    # The groups below are no complaint category: signals the model weighs for or against.
    "persistence": [
        ("still/again", False, r"\bstill\b|\bagain\b|\byet\b|\balready\b|\bever since\b"),
        ("duration", False, r"\b(?:for|over|since|in) (?:over |almost |nearly )?(?:\d+|a|an|two|three|four|five|"
                            r"several|many|few) (?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b|"
                            r"\bfor (?:hours|days|weeks|months|ages)\b|\bsince (?:monday|tuesday|wednesday|"
                            r"thursday|friday|saturday|sunday|yesterday|last|\d)"),
        ("n times", False, r"\b(?:\d+|two|three|four|five|several|multiple|many|countless) times\b"),
    ],
    "threat": [
        ("taking business elsewhere", False, r"\b(?:will|i'll|going to|gonna) (?:never|not) (?:\w+ )?(?:use|buy|"
                                             r"fly|shop|order|come back|be back|return|recommend)\w*|\blos(?:e|t|ing) "
                                             r"(?:my|a|your) (?:business|custom|customer)\b|\belsewhere\b|"
                                             r"\bfinal straw\b|\b(?:i am|i'm|we are) done\b|\bdone with (?:you|this)\b|"
                                             r"\blast time\b"),
        ("escalating", False, r"\bombudsman\b|\btrading standards\b|\blawyer\w*|\bsue\b|\bbbb\b|"
                              r"\breport(?:ing)? (?:you|this|them)\b|\bformal complaint\b|\bcomplain\w*"),
    ],
    "expectation": [
        ("should have", False, r"\bsupposed to\b|\bshould (?:have|be|not)\b|\bwas told\b|\bpromised\b|\bmeant to\b|"
                               r"\bexpected\b|\bpaid for\b|\bhow hard is\b|\btoo much to ask\b|\bcome on\b|"
                               r"\bwaste of\b|\bwasted\b|\bexcuse\b"),
        ("customer service", False, r"\bcustomer (?:service|care|support|services)\b"),
    ],
    "narrative": [
        ("i bought", False, r"\b(?:i|we) (?:\w+ )?(?:bought|ordered|paid|purchased|called|emailed|booked|received|"
                            r"got|waited|spent|tried|went|was told|have been|had|sent|returned|reported)\b"),
    ],
    "help_request": [
        ("help", False, r"\bhelp\b|\bassist\w*|\badvi[cs]e\b|\bsort (?:this|it) out\b"),
        ("why", False, r"\bwhy (?:is|are|does|do|did|has|have|cannot|would|will|am|was|were)\b|"
                       r"\bwhat (?:is going on|happened|gives)\b|\bhow (?:do|can) i (?:get|fix|stop|cancel)\b"),
    ],
    "praise": [
        ("thanks", False, r"\bthank\w*|\bthx\b|\bcheers\b|\bappreciate\w*|\bkudos\b|\bshout ?out\b"),
        ("love", False, r"(?<!not )(?<!never )\b(?:lov(?:e|ed|es|ing)|great|awesome|amazing|excellent|brilliant|"
                        r"fantastic|perfect|best|wonderful|beautiful|nice|good)\b"),
        ("happy", False, r"\bhappy\b|\bglad\b|\bexcited\b|\bcannot wait\b|\benjoy\w*|\bcongrat\w*|\bwell done\b|"
                         r"\bgood job\b|[:;]-?\)|:d\b|<3|\u2764|\U0001f60d|\U0001f60a"),
        ("resolved", False, r"(?<!not )(?<!never )(?<!been )\b(?:resolved|solved|sorted|resolving)\b|"
                            r"\bworking (?:now|again)\b|\ball good\b|\bfixed now\b|\b(?:quick|fast|speedy|prompt|"
                            r"swift) (?:refund|response|reply|replacement|delivery|fix|help|service)\b"),
    ],
    "own_doing": [
        ("my mistake", False, r"\baccident(?:al)?ly\b|\bmy (?:mistake|fault|bad)\b|\bi forgot\b|\bby mistake\b"),
    ],
    "info_question": [
        ("availability question", False, r"\bdo you (?:have|sell|stock|ship|deliver|offer|know)\b|\bis there\b|"
                                         r"\bare there\b|\bin stock\b|\bavailable\b|\bwhere can i\b"),
        ("when question", False, r"\bwhen (?:is|will|does|do|are)\b|\bhow (?:much|many|long)\b|\bcan i\b|"
                                 r"\bany plans\b|\bis it possible\b"),
    ],
}
_CUE_RES = {
    cat: re.compile("|".join(f"(?P<c{i}>{rx})" for i, (_, _, rx) in enumerate(entries)))
    for cat, entries in LEXICON.items()
}
_COMPLAINT_CATS = tuple(c for c in CATEGORIES if c != "other")
_CATEGORY_ORDER = tuple(c for c in LEXICON if c in _COMPLAINT_CATS)  # the more specific categories first

_URL = re.compile(r"https?://\S+|www\.\S+|pic\.twitter\.com/\S+", re.I)
_HANDLE = re.compile(r"@\w+")
_SUPPORT_HANDLE = re.compile(r"@\w*(?:support|help|care|cares|service|svc|ask)", re.I)
_NEGATION = [(re.compile(p), r) for p, r in (
    (r"\b(can ?not|can'?t)\b", "cannot"), (r"\b(won'?t)\b", "will not"), (r"\bain'?t\b", "is not"),
    (r"\b(do|does|did|is|are|was|were|have|has|had|could|would|should|must)(?:n'?t)\b", r"\1 not"),
)]
_TOKEN = re.compile(r"<\w+>|[a-z][a-z0-9']*|[!?]")
_REFERENCE = re.compile(
    r"\b(?:order|ticket|case|ref|reference|booking|account|acct|pnr|complaint|tracking|claim|invoice|"
    r"flight|incident)\s*(?:no\.?|number|num|id|#)?\s*[:#]?\s*[a-z]{0,3}-?\d[\w-]{2,}|#\d{4,}|\b\d{6,}\b", re.I)
_QUANTITY = re.compile(
    r"[$\u00a3\u20ac]\s?\d[\d,]*(?:\.\d+)?|\b\d+(?:[.,]\d+)? ?(?:dollars|pounds|euros|rs|rupees|hours?|hrs?|days?|weeks?|"
    r"months?|mins?|minutes?|times|calls|emails|messages|attempts|tries)\b|\bday \d+\b|"
    r"\b(?:two|three|four|five|six|several|multiple) (?:hours|days|weeks|months|"
    r"times)\b|\b\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?\b|\b(?:on|since|last) (?:monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday)\b", re.I)
_EVIDENCE = {  # what makes a complaint actionable besides a concrete problem cue, in display order
    "reference": _REFERENCE,
    "amount/date": _QUANTITY,
}
_SHAPE_NAMES = {
    "s:starts_with_handle": "addressed to an account", "s:support_handle": "addressed to a support account",
    "s:url": "has a link", "s:question": "a question", "s:exclamation": "exclamation",
    "s:shouting": "shouting (caps)", "s:reference": "reference number", "s:quantity": "number/date/amount",
    "s:first_person": "first person", "s:handles": "accounts addressed", "s:no_handle": "no account addressed",
}
MAX_CUES = 8


def _normalise(text: str, placeholders: bool) -> str:
    """Lower-cased, entities decoded, negations spelled out ("doesnt" -> "does not"); handles and URLs
    become <user>/<url> (``placeholders``) or vanish, so a brand name is never a feature."""
    return _normalise_decoded(_decoded(html.unescape(text)), placeholders)


def _decoded(unescaped: str) -> str:
    return unescaped.replace("\u2019", "'").replace("\u2018", "'")


def _without_placeholders(decoded: str, normalised: str) -> str:
    """``_normalise(text, placeholders=False)`` from ``decoded`` (``_decoded`` of the text) and
    ``normalised`` (its ``_normalise_decoded`` with placeholders), without normalising twice.

    Each placeholder is a token of its own (spaces either side), and no negation rule can match across
    one (a handle ends before a letter, a URL before a space), so dropping the placeholder tokens
    gives the very same string, unless the text itself held a "<" that could spell one."""
    if "<" in decoded:
        return _normalise_decoded(decoded, placeholders=False)
    return " ".join(w for w in normalised.split(" ") if w != "<url>" and w != "<user>")


def _normalise_decoded(t: str, placeholders: bool) -> str:
    t = _URL.sub(" <url> " if placeholders else " ", t)
    t = _HANDLE.sub(" <user> " if placeholders else " ", t).lower()
    for rx, repl in _NEGATION:
        t = rx.sub(repl, t)
    return " ".join(t.split())  # removed handles must not break multi-word cues ("is @acme down")


def cue_hits(text: str) -> dict[str, list[tuple[str, bool]]]:
    """Lexicon cues found in ``text``: group -> [(label, strong), ...] in reading order."""
    return _cue_hits_normalised(_normalise(text, placeholders=False))


def _cue_hits_normalised(t: str) -> dict[str, list[tuple[str, bool]]]:
    hits: dict[str, list[tuple[str, bool]]] = {}
    for cat, rx in _CUE_RES.items():
        entries = LEXICON[cat]
        found = [entries[int(m.lastgroup[1:])][:2] for m in rx.finditer(t) if m.lastgroup]
        if found:
            hits[cat] = found
    return hits


def analyse(text: str, compound: float) -> tuple[dict[str, float], dict[str, list[tuple[str, bool]]]]:
    """(features, cue hits) of one text; ``compound`` is its VADER compound score.

    Word uni/bigrams share one L2-normalised block (numbers become <num>); cue counts, sentiment and
    shape features are scaled to 0..1.
    """
    raw = html.unescape(text)
    decoded = _decoded(raw)
    normalised = _normalise_decoded(decoded, placeholders=True)
    t = re.sub(r"\d+(?:[.,:/]\d+)*", " <num> ", normalised)
    toks = _TOKEN.findall(t)
    seq = ["<s>", *toks, "</s>"]
    grams = {"w:" + w for w in toks} | {f"b:{a} {b}" for a, b in zip(seq, seq[1:], strict=False)}
    f = dict.fromkeys(grams, 1.0 / math.sqrt(len(grams)))
    hits = _cue_hits_normalised(_without_placeholders(decoded, normalised))
    # Per-cue indicators overfit (measured); per-group counts and the strong/weak totals do not.
    strong = weak = cats = 0
    for cat, found in hits.items():
        f["cat:" + cat] = min(len(found), 3) / 3
        if cat in _COMPLAINT_CATS:
            cats += 1
            n_strong = sum(1 for _, is_strong in found if is_strong)
            strong += n_strong
            weak += len(found) - n_strong
    for name, n in (("agg:strong", strong), ("agg:weak", weak), ("agg:categories", cats)):
        if n:
            f[name] = min(n, 3) / 3
    if compound:
        f["v:neg" if compound < 0 else "v:pos"] = abs(compound)
    bare = _HANDLE.sub(" ", _URL.sub(" ", raw))
    shape = {
        "s:starts_with_handle": raw.lstrip().startswith("@"),
        "s:support_handle": bool(_SUPPORT_HANDLE.search(raw)),
        "s:url": bool(_URL.search(raw)),
        "s:question": "?" in raw,
        "s:exclamation": "!" in raw,
        "s:shouting": bool(re.search(r"\b[A-Z]{3,}\b", bare)),
        "s:reference": bool(_REFERENCE.search(bare)),
        "s:quantity": bool(_QUANTITY.search(bare)),
        "s:first_person": bool(re.search(r"\b(?:i|my|me|i'm|i've|we|our|us)\b", t)),
    }
    f.update({k: 1.0 for k, on in shape.items() if on})
    handles = len(_HANDLE.findall(raw))  # how many accounts are addressed says much about who talks to whom
    f["s:handles" if handles else "s:no_handle"] = min(handles, 4) / 4 if handles else 1.0
    return f, hits


def features(text: str, compound: float) -> dict[str, float]:
    """The model's features for one text (see ``analyse``)."""
    return analyse(text, compound)[0]


def linear_probability(f: dict[str, float], part: dict[str, Any]) -> float:
    """sigmoid(bias + w.x) for one part of a model dict ({"bias": b, "weights": {name: w}})."""
    w = part["weights"]
    z = part["bias"] + sum(w.get(n, 0.0) * v for n, v in f.items())
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def probability(model: dict[str, Any], f: dict[str, float]) -> float:
    """P(complaint) ~ P(customer talk) * P(complaint | customer talk).

    The first factor is floored at the model's "talk_floor": the text of a brand mention alone often
    cannot show it is addressed to a company ("acme sucks"), and the floor keeps such complaints in
    reach. It is 1 when the model has no "customer_talk" part.
    """
    talk = model.get("customer_talk")
    if not talk:
        return linear_probability(f, model["complaint"])
    floor = model.get("talk_floor", 0.0)
    return (floor + (1.0 - floor) * linear_probability(f, talk)) * linear_probability(f, model["complaint"])


@dataclass(frozen=True, slots=True)
class ComplaintScore:
    probability: float  # 0..1, calibrated-ish
    is_complaint: bool  # probability >= the model's threshold
    specific: bool  # a specific, actionable complaint (only meaningful when is_complaint)
    category: str | None  # one of CATEGORIES; None when not a complaint
    cues: tuple[str, ...]  # human-readable cues that fired, strongest first (at most MAX_CUES)


class ComplaintClassifier:
    """A loaded complaint model. Scoring only reads it, so one instance can serve many threads."""

    def __init__(self, model: dict[str, Any]):
        if model.get("format") != 1 or "complaint" not in model or "threshold" not in model:
            raise ValueError("not a complaint model (format 1): retrain with bench/train_complaint.py --write")
        self.model = model
        self.threshold = float(model["threshold"])
        self._vader: Any = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> ComplaintClassifier:
        """The model at ``path``, or the one shipped in monitor/data. Raises OSError or ValueError."""
        if path is None:
            text = resources.files("monitor").joinpath("data/complaint_model.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return cls(json.loads(text))

    def _compound(self, text: str) -> float:
        if self._vader is None:  # built lazily: callers that pass the sentiment never pay for it
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._vader = SentimentIntensityAnalyzer()
        return float(self._vader.polarity_scores(text)["compound"])

    def score(self, text: str, sentiment: float | None = None) -> ComplaintScore:
        """Score one mention. ``sentiment`` is its VADER compound if the caller already has it."""
        compound = self._compound(text) if sentiment is None else sentiment
        f, hits = analyse(text, compound)
        p = probability(self.model, f)
        is_complaint = p >= self.threshold
        category, specific, evidence = None, False, []
        if is_complaint:
            category = _category(hits)
            bare = _HANDLE.sub(" ", _URL.sub(" ", html.unescape(text)))
            evidence = [f"{name}:{m.group(0).strip()}" for name, rx in _EVIDENCE.items() if (m := rx.search(bare))]
            strong = any(s for c in _COMPLAINT_CATS for _, s in hits.get(c, ()))
            specific = strong or bool(evidence)
        cues = self._cues(f, hits, compound, is_complaint)[: MAX_CUES - len(evidence)] + evidence
        return ComplaintScore(round(p, 4), is_complaint, specific, category, tuple(cues))

    def explain(self, text: str, sentiment: float | None = None) -> list[tuple[str, float]]:
        """Every feature's contribution (weight * value) to the complaint logit, largest magnitude first."""
        compound = self._compound(text) if sentiment is None else sentiment
        w = self.model["complaint"]["weights"]
        contrib = [(n, w[n] * v) for n, v in features(text, compound).items() if n in w]
        return sorted(contrib, key=lambda c: -abs(c[1]))

    def _cues(self, f: dict[str, float], hits: dict[str, list[tuple[str, bool]]], compound: float,
              is_complaint: bool) -> list[str]:
        """Display names of the features pushing towards the decision, strongest first."""
        w = self.model["complaint"]["weights"]
        shown: dict[str, float] = {}
        for name, value in f.items():
            c = w.get(name, 0.0) * value
            if not c:
                continue
            if name.startswith("agg:"):  # totals over the complaint cues: credit them to those cues
                cats = [k for k in _COMPLAINT_CATS if k in hits]
                for k in cats:
                    key = _cue_label(k, hits)
                    shown[key] = shown.get(key, 0.0) + c / len(cats)
                continue
            key = _display(name, compound, hits)
            shown[key] = shown.get(key, 0.0) + c
        sign = 1.0 if is_complaint else -1.0
        ranked = [k for k, c in sorted(shown.items(), key=lambda kc: -sign * kc[1]) if sign * c > 0]
        talk = self.model.get("customer_talk")
        if talk and not is_complaint:
            p_talk = linear_probability(f, talk)
            if p_talk < 0.5:
                ranked.insert(0, f"not customer talk {p_talk:.2f}")
        return ranked


def _cue_label(cat: str, hits: dict[str, list[tuple[str, bool]]]) -> str:
    return "cue:" + ", ".join(dict.fromkeys(label for label, _ in hits[cat]))


def _display(name: str, compound: float, hits: dict[str, list[tuple[str, bool]]]) -> str:
    kind, _, rest = name.partition(":")
    if kind == "w":
        return "word:" + rest
    if kind == "b":
        return "words:" + rest.replace("<s> ", "^").replace(" </s>", "$")
    if kind == "cat":
        return _cue_label(rest, hits)
    if kind == "v":
        return f"{'negative' if compound < 0 else 'positive'} sentiment {compound:+.2f}"
    return _SHAPE_NAMES.get(name, name)


def _category(hits: dict[str, list[tuple[str, bool]]]) -> str:
    """The complaint category with the most strong cues, then the most cues; LEXICON order breaks ties."""
    ranked = [(sum(1 for _, s in hits[c] if s), len(hits[c]), -i, c) for i, c in enumerate(_CATEGORY_ORDER)
              if c in hits]
    return max(ranked)[3] if ranked else "other"
