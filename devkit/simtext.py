"""What the simulator's people write: templates of complaints, praise, news, replies and quotes.

``fill`` turns a template into a text for a brand, with products, numbers and dates drawn at random.
"""

from __future__ import annotations

import random

PRODUCTS = ("router", "phone", "laptop", "subscription", "washing machine", "headphones", "account",
            "order", "fridge", "tv", "smart speaker", "vacuum", "gift card", "membership")
CITIES = ("Leeds", "Austin", "Lyon", "Pune", "Denver", "Cork", "Porto", "Osaka")
COMPLAINT = (
    "I tried to cancel my @{b} {p} {n} times and nobody answers. Charged again, order #{o}.",
    "@{b} my {p} stopped working after {d} days and support hung up on me twice. Ticket {o}.",
    "Ordered a {p} from {b} on {day}, order {o}, still not delivered and no reply to {n} emails.",
    "{b} charged me twice for my {p} (${a}) and refuses to refund. Case #{o}. Unacceptable.",
    "Day {d} of waiting for @{b} to fix my {p}. {n} calls, {n} different answers, zero fixes.",
    "@{b} your engineer never showed up, again. Took a day off work for nothing. Ref {o}",
    "Been on hold with {b} for {m} minutes about my broken {p}. This is the {nth} time this week.",
    "@{b} sent me the wrong {p} and now wants me to pay ${a} to return it?? Order #{o}",
    "My {b} {p} arrived smashed and support keeps closing my ticket without answering. #{o}",
    "{b} cut off my {p} without warning and says it will take {d} days to restore. Awful.",
    "@{b} I have emailed {n} times about refund {o}. No response. Where is my money?",
    "So @{b} will only fix my faulty {p} if I post it to a depot with no phone number??",
    "@{b} support told me to reset my {p} for the {nth} time. It is still broken. Ticket {o}",
    "{b} billed me ${a} after I closed my account in {mon}. Nobody replies. Ref {o}.",
    "Third replacement {p} from @{b} and it fails the same way. {d} days without it. #{o}",
    "@{b} delivery driver left my {p} in the rain, box soaked. Claim {o} denied. Seriously?",
)
VAGUE = (
    "ugh @{b} is the worst", "never buying {b} again", "{b} customer service is a joke",
    "why is @{b} like this", "@{b} do better", "fed up with {b} tbh", "{b} really going downhill",
    "honestly {b} what are you doing", "{b} is a nightmare lately",
)
OUTAGE = (
    "is @{b} down?", "@{b} app not loading for me", "can't log in to {b}, anyone else?",
    "{b} has been down for {m} minutes, cannot pay for anything", "@{b} site down again?? error 503",
    "{b} outage again, my {p} won't connect", "@{b} checkout keeps failing, is it down?",
    "{b} servers down? app just spins", "@{b} no service since {hh}:{mm}, what is going on",
)
PRAISE = (
    "@{b} thanks for the quick refund!", "Just switched to {b} and so far so good",
    "Love my new {b} {p}, setup took five minutes", "shout out to the {b} support team, sorted in one call",
    "{b} delivered a day early, impressed", "the new {b} {p} is brilliant", "{b} staff in {city} were lovely today",
    "Honestly the best {p} I have owned, well done {b}",
)
NEUTRAL = (
    "{b} store opening hours on sunday?", "anyone tried the {b} {p}?", "{b} event livestream starts at {hh}",
    "is the {b} {p} worth it?", "{b} announces new {p} line for spring", "does {b} ship to {city}?",
    "{b} quarterly results out today", "picked up a {b} {p} on sale", "{b} is hiring in {city}",
    "how do I change my {b} delivery address?", "{b} {p} vs the competition, thoughts?",
)
SAD = (
    "Tragic accident at a {b} warehouse in {city}, thoughts with the families",
    "RIP to the {b} founder, what a loss", "{b} closing its {city} plant, 400 jobs lost. Heartbreaking",
    "Terrible news: fire at the {b} store in {city}. Hope everyone is safe",
)
NEG_OTHER = ("{b}'s new ad is so weird", "not sure about the new {b} logo", "{b} prices keep going up everywhere",
             "sad to see {b} leave {city}")
REPLY = {
    "complaint": ("@{u} same thing happened to me with @{b}", "@{u} @{b} fix this!", "@{u} this is outrageous",
                  "@{u} wow, terrible service", "@{u} @{b} why are you ignoring this?",
                  "@{u} been waiting {d} weeks for mine too", "@{u} this is why I left {b}",
                  "@{u} exactly the same, order {o}, no reply", "@{u} unacceptable, hope you get your money back"),
    "sad": ("@{u} so sad", "@{u} thoughts with everyone", "@{u} heartbreaking", "@{u} awful news, stay safe"),
    "praise": ("@{u} love this", "@{u} agreed!", "@{u} same, great service", "@{u} nice!"),
    "neutral": ("@{u} interesting", "@{u} following", "@{u} good question", "@{u} not sure tbh"),
}
QUOTE = {
    "complaint": ("this is unacceptable @{b}", "{b} needs to answer for this", "same experience here, avoid {b}",
                  "look at this @{b}"),
    "sad": ("so sad", "terrible", "thinking of everyone at {b}"),
    "praise": ("agreed!", "love {b}", "this is the way"), "neutral": ("hm", "interesting", "worth a read"),
}
VIP_NAMES = ("sarah_reports", "techdesk_mia", "consumerwatch", "the_money_show", "jkowalski_news",
             "ombudsman_uk", "trading_standards", "dan_investigates")


def fill(template: str, rng: random.Random, brand: str, user: str = "") -> str:
    return template.format(
        b=brand, u=user, p=rng.choice(PRODUCTS), n=rng.randint(2, 9), o=rng.randint(10000, 999999),
        d=rng.randint(2, 40), a=rng.randint(12, 900), m=rng.choice((20, 45, 90, 120)), city=rng.choice(CITIES),
        nth=rng.choice(("third", "fourth", "fifth")), day=rng.choice(("monday", "tuesday", "friday")),
        mon=rng.choice(("May", "June", "August")), hh=rng.randint(6, 22), mm=rng.choice(("00", "15", "30")))
