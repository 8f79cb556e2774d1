"""The complaint cue lexicon: what customer complaints say, by category, as regular expressions.

Data, not logic: ``monitor.scoring.complaint`` compiles it and turns its hits into features and cues.
"""

from __future__ import annotations

CATEGORIES = ("failure", "refusal", "no_response", "billing", "cancellation", "delivery", "repair",
              "rudeness", "outage", "other")

# The cue lexicon, written a priori from what customer complaints say (not mined from the data, so
# it generalises past the training sample). Each entry is (label, strong, regex) matched on
# normalised text (see monitor.scoring.complaint._normalise). A strong cue names a concrete problem
# and can make a complaint specific; a weak one only names the topic ("order", "price") or an
# emotion. Earlier categories win ties when the category of a complaint is chosen.
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
