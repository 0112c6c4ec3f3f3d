"""A synthetic restaurant world with known ground truth (SOURCE ``synthetic`` / ``synthetic:SEED``).

Users have latent tastes: a Dirichlet preference over cuisines, a preferred price level with a
personal sensitivity, a Dirichlet preference over ambiences, a home city and an age band.
Restaurants have one or two cuisines, a price level (``$``..``$$$$``), a city, an ambience, a
hidden quality, a Zipf-like popularity, a generated name and a description.

Who reviews what: each user gets a heavy-tailed number of reviews (at least
``min_reviews_per_user``, at most 80% of the home city's restaurants); each review goes to a
restaurant in the user's home city with probability ``same_city_prob`` (else to one elsewhere),
drawn without replacement (Gumbel top-k) with probability proportional to
``popularity * exp(choice_bias * standardised match)``, so degrees are heavy tailed on both sides
and every (user, restaurant) pair is distinct.

The rating of user ``u`` for restaurant ``i`` is::

    latent = (match(u, i) - mu) / sigma + quality_weight * quality_i + positive_skew
             + rating_noise * N(0, 1)
    stars  = 1 + #{c in RATING_CUTS : latent > c}

with ``match(u, i) = ground_truth["user_taste"][u] @ ground_truth["item_attributes"][i]`` (the
taste vector already carries the weights of its cuisine, price and ambience blocks) and ``mu``,
``sigma`` the mean and standard deviation of ``match`` over all (user, restaurant) pairs. Users
mostly pick restaurants they like, so most ratings are positive (about 78% at >= 4 with the
defaults, as in the restaurant data of DLRREC). Review texts follow the rating and the
restaurant's attributes, with off-topic or contradictory sentences added with probability
``review_noise``.

Entity texts (``text_informativeness`` set): each user gets a short bio and each restaurant a
description, written from the TRUE latent state (static metadata, known at training time). With
informativeness p every true statement (favourite and avoided cuisines, usual price level and price
sensitivity, preferred and avoided ambience for users; cuisine, price, ambience and the hidden
quality for restaurants) is kept independently with probability p, and a kept statement names a
wrong value with probability ``text_error_rate``; with nuisance q, each of six boilerplate slots
(names, membership lines, opening hours, off-topic sentences) is filled with probability q. These
texts draw on their own random stream (seeded by ``seed`` and ``text_seed``), so interactions,
ratings and reviews are the same for every text setting, and with the default
``text_informativeness=None`` the world is exactly the original one (no user text, template
descriptions). :data:`DEMO_OPTIONS` is the recommended informative, sparse setting.

Everything is vectorised with numpy; review sentences are formatted once per variant into lookup
tables and joined per review in one list comprehension. Deterministic for a given ``seed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fuserec.config import check_range
from fuserec.data.dataset import Dataset, FieldSpec, build_dataset
from fuserec.errors import ConfigError

CUISINES = ("italian", "mexican", "japanese", "chinese", "indian", "thai", "french", "american",
            "mediterranean", "korean", "vietnamese", "spanish", "greek", "ethiopian", "peruvian",
            "lebanese")
PRICES = ("$", "$$", "$$$", "$$$$")
AMBIENCES = ("casual", "romantic", "family", "lively", "quiet")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
CITY_NAMES = ("Springfield", "Riverton", "Lakeside", "Fairview", "Brookhaven", "Maplewood", "Oakridge",
              "Harborview", "Cedar Falls", "Westbury", "Northgate", "Eastwick", "Pinecrest", "Milltown",
              "Stonebridge", "Glenwood")
#: latent score cut points between 1|2, 2|3, 3|4 and 4|5 stars
RATING_CUTS = (-1.6, -0.9, -0.2, 0.9)
SECONDS_PER_DAY = 86400.0
START_TIME = 1_609_459_200.0  # 2021-01-01 00:00 UTC

_DISHES = {
    "italian": ("pasta", "pizza", "risotto"), "mexican": ("tacos", "enchiladas", "mole"),
    "japanese": ("sushi", "ramen", "tempura"), "chinese": ("dumplings", "noodles", "Peking duck"),
    "indian": ("curry", "biryani", "naan"), "thai": ("pad thai", "green curry", "tom yum"),
    "french": ("steak frites", "croissants", "coq au vin"), "american": ("burgers", "ribs", "fries"),
    "mediterranean": ("falafel", "hummus", "grilled fish"), "korean": ("bibimbap", "bulgogi", "kimchi stew"),
    "vietnamese": ("pho", "banh mi", "spring rolls"), "spanish": ("tapas", "paella", "croquetas"),
    "greek": ("gyros", "souvlaki", "moussaka"), "ethiopian": ("injera", "doro wat", "tibs"),
    "peruvian": ("ceviche", "lomo saltado", "anticuchos"), "lebanese": ("shawarma", "tabbouleh", "kibbeh"),
}
_NAME_FIRST = ("Golden", "Little", "Blue", "Red", "Old", "Happy", "Silver", "Green", "Lucky", "Royal",
               "Rustic", "Urban", "Sunny", "Hidden", "Corner", "Wild", "Copper", "Velvet", "Salty", "Smoky")
_NAME_SECOND = ("Spoon", "Table", "Lantern", "Garden", "Kitchen", "Oven", "Bistro", "Fork", "Harbor",
                "Olive", "Pepper", "Dragon", "Tavern", "Plate", "Grill", "House", "Leaf", "Bowl")
_AMBIENCE_WORDS = {
    "casual": "relaxed, casual", "romantic": "intimate, romantic", "family": "family-friendly",
    "lively": "buzzing, lively", "quiet": "calm, quiet",
}
_PRICE_WORDS = ("cheap", "moderate", "upscale", "fine-dining")
_DESCRIPTION_TEMPLATES = (
    "{name} is a {amb} {cuisine} restaurant in {city} with {pw} prices ({price}). Known for its {dish}.",
    "A {amb} spot in {city}, {name} serves {cuisine} food at {pw} prices ({price}); try the {dish}.",
    "{name} ({city}): {cuisine} cooking, {dish} a specialty, {amb} atmosphere, {price}.",
    "Located in {city}, {name} offers {cuisine} dishes such as {dish} in a {amb} setting. Price range {price}.",
)
_OPENING = (  # by sentiment bucket: negative (1-2 stars), mixed (3), positive (4-5)
    ("Really disappointed with {name}.", "Would not recommend {name}.", "{name} was a letdown.",
     "Not a good experience at {name}."),
    ("{name} was okay.", "Mixed feelings about {name}.", "{name} is fine, nothing special.",
     "An average visit to {name}."),
    ("Loved {name}!", "{name} is a gem.", "Great experience at {name}.", "Highly recommend {name}."),
)
_FOOD = (
    ("The {cuisine} food was bland and the {dish} tasted stale.",
     "The {dish} was cold and the {cuisine} flavours were off.",
     "Poor {cuisine} cooking; the {dish} was overcooked."),
    ("The {cuisine} food was decent but the {dish} lacked flavour.",
     "The {dish} was fine, typical {cuisine} fare.",
     "Some {cuisine} dishes were good, the {dish} less so."),
    ("The {cuisine} food was delicious, especially the {dish}.",
     "Best {dish} I've had; authentic {cuisine} flavours.",
     "Wonderful {cuisine} cooking and a perfect {dish}."),
)
_PRICE_SENT = (  # by price fit: too expensive for the user, fits, cheap for the user
    ("Way too expensive for what you get ({price}).", "Overpriced at {price}.",
     "The {price} prices felt steep."),
    ("Prices ({price}) felt fair.", "Reasonable value for {price}.", "The bill ({price}) was about what I expected."),
    ("Very cheap ({price}) for the portions.", "A bargain at {price}.", "Great value, only {price}."),
)
_AMBIENCE_SENT = (
    ("The {amb} atmosphere did not work for me.", "Did not enjoy the {amb} vibe."),
    ("The {amb} atmosphere was okay.", "A {amb} place, nothing more."),
    ("Loved the {amb} atmosphere.", "The {amb} vibe was just right."),
)
_CLOSING = (
    ("Won't be back.", "One star for trying.", "Save your money."),
    ("Might return.", "It was alright.", "Could be better."),
    ("Will definitely come back!", "Five stars.", "Can't wait to return."),
)
_QUALITY_SENT = (  # by hidden-quality quintile, worst first
    ("Critics call the cooking poor and careless.", "Food quality here is often criticised."),
    ("The kitchen is inconsistent.", "The food is below average for the area."),
    ("The food is solid, ordinary cooking.", "Cooking is average, neither good nor bad."),
    ("The kitchen is well regarded.", "The food is consistently good."),
    ("Critics rave about the outstanding cooking.", "The food is exceptional, among the best in town."),
)
_USER_LIKE = ("I love {cuisine} food.", "{cuisine} is my favourite cuisine.", "Give me {dish} any day.",
              "I am always up for {cuisine} cooking.")
_USER_DISLIKE = ("I am not into {cuisine} food.", "I rarely enjoy {cuisine} cooking.",
                 "{cuisine} food is not for me.")
_USER_PRICE = ("I usually eat at {pw} places ({price}).", "My budget is {pw}, around {price}.",
               "I mostly go for {price} restaurants.")
_USER_SENSITIVE = ("Price matters a lot to me.", "I watch the bill closely.")
_USER_RELAXED = ("I do not worry much about the bill.", "Price is not a big deal for me.")
_USER_AMB_LIKE = ("I prefer {amb} places.", "The {amb} kind of place makes my evening.")
_USER_AMB_DISLIKE = ("I avoid {amb} spots.", "The {amb} kind of place puts me off.")
_FIRST_NAMES = ("Alex", "Sam", "Maria", "Chen", "Priya", "Jordan", "Lena", "Omar", "Kate", "Luis", "Aiko",
                "Ben", "Nora", "Ivan", "Zoe", "Raj")
_USER_NUISANCE = ("Hi, I am {first}.", "Member since {year}.", "I write reviews in my free time.",
                  "I have two cats and a garden.", "I work as a {job}.", "I enjoy hiking on weekends.",
                  "Follow me for more reviews.", "I moved here a few years ago.", "I like old movies.")
_JOBS = ("nurse", "teacher", "software developer", "carpenter", "student", "accountant", "designer")
_ITEM_NUISANCE = ("Open daily from 11am to 10pm.", "Located at {num} Main Street.", "Established in {year}.",
                  "Accepts all major credit cards.", "Street parking is available nearby.",
                  "Call ahead for large groups.", "Gift cards are available at the counter.",
                  "Owned by the {first} family.", "Free wifi for customers.")
_OFF_TOPIC = ("Parking was hard to find.", "We came here after a movie.", "My phone died halfway through.",
              "The traffic on the way was terrible.", "It was raining all evening.",
              "I wrote this review a week later.", "Our friend recommended it.")


#: The recommended demo world: sparse users (5 reviews each on average, 2 at least) whose bios and
#: restaurants whose descriptions state their true tastes and attributes (informativeness 1, light
#: nuisance): the papers' setting, where text knows what few interactions cannot teach. Split it
#: with ``ratios: [0.6, 0.2, 0.2]`` so that a typical user keeps 3 training reviews and has
#: validation and test examples, and feed the models each entity's own text (DLRM family:
#: ``model.semantic`` fields with ``source: metadata``; graph family: ``profile_source: metadata``):
#: the template profiles do not quote a user's bio. The evidence grids do both (fuserec.evidence).
DEMO_OPTIONS: dict = {"n_users": 3000, "n_items": 400, "reviews_per_user": 5.0, "min_reviews_per_user": 2,
                      "n_cities": 4, "text_informativeness": 1.0, "text_nuisance": 0.2}


@dataclass
class Options:
    """Size and behaviour of the synthetic world.

    seed: random seed (everything is deterministic for a seed).
    n_users, n_items: number of users and restaurants.
    n_reviews: target number of (distinct) reviews; a few fewer when users run out of new places.
    n_cities: number of cities (at most 16).
    n_cuisines: number of cuisines (at most 16).
    taste_concentration: Dirichlet concentration of users' cuisine tastes (small = picky users).
    same_city_prob: probability that a review is for a restaurant in the user's home city.
    popularity_exponent: Zipf exponent of restaurant popularity (0 = uniform).
    activity_sigma: log-normal sigma of user activity (heavy-tailed user degrees).
    min_reviews_per_user: every user writes at least this many reviews.
    choice_bias: how strongly users pick restaurants matching their taste.
    cuisine_weight, price_weight, ambience_weight: weights of the three match blocks.
    quality_weight: weight of the restaurant's hidden quality in ratings.
    rating_noise: standard deviation of the Gaussian noise on the latent rating score.
    positive_skew: offset added to the latent rating score (more positive ratings when larger).
    review_noise: probability of an off-topic sentence in a review (and half of it of a sentence
        contradicting the rating).
    days: time span of the reviews.
    reviews_per_user: if set, the mean number of reviews per user (replaces n_reviews by
        ``round(reviews_per_user * n_users)``): the sparsity of the world.
    text_informativeness: None (default) keeps the original texts (no user text, template item
        descriptions); a value in [0, 1] writes a bio per user and a description per restaurant
        in which each true taste / attribute / quality statement appears with this probability.
    text_nuisance: in [0, 1]: probability of each of six boilerplate / name / off-topic slots.
    text_error_rate: probability that a stated fact names a wrong value (noise in the text).
    text_seed: seed of the text stream (with ``seed``); changes the texts, not the interactions.
    """

    seed: int = 0
    n_users: int = 3000
    n_items: int = 600
    n_reviews: int = 60000
    n_cities: int = 8
    n_cuisines: int = 12
    taste_concentration: float = 0.3
    same_city_prob: float = 0.85
    popularity_exponent: float = 0.8
    activity_sigma: float = 0.9
    min_reviews_per_user: int = 3
    choice_bias: float = 1.0
    cuisine_weight: float = 1.0
    price_weight: float = 0.6
    ambience_weight: float = 0.5
    quality_weight: float = 0.5
    rating_noise: float = 0.8
    positive_skew: float = 0.1
    review_noise: float = 0.1
    days: int = 730
    reviews_per_user: float | None = None
    text_informativeness: float | None = None
    text_nuisance: float = 0.0
    text_error_rate: float = 0.1
    text_seed: int = 0

    @property
    def target_reviews(self) -> int:
        """The number of reviews asked for: ``n_reviews``, or ``reviews_per_user * n_users`` if set."""
        if self.reviews_per_user is None:
            return self.n_reviews
        return int(round(self.reviews_per_user * self.n_users))

    def validate(self) -> None:
        check_range(self.n_users, "dataset.options.n_users", 1)
        check_range(self.n_items, "dataset.options.n_items", 1)
        check_range(self.n_reviews, "dataset.options.n_reviews", 1)
        check_range(self.n_cities, "dataset.options.n_cities", 1, len(CITY_NAMES))
        check_range(self.n_cuisines, "dataset.options.n_cuisines", 2, len(CUISINES))
        check_range(self.taste_concentration, "dataset.options.taste_concentration", 0.0, low_inclusive=False)
        check_range(self.same_city_prob, "dataset.options.same_city_prob", 0.0, 1.0)
        check_range(self.popularity_exponent, "dataset.options.popularity_exponent", 0.0)
        check_range(self.activity_sigma, "dataset.options.activity_sigma", 0.0)
        check_range(self.min_reviews_per_user, "dataset.options.min_reviews_per_user", 1)
        check_range(self.rating_noise, "dataset.options.rating_noise", 0.0)
        check_range(self.review_noise, "dataset.options.review_noise", 0.0, 1.0)
        check_range(self.days, "dataset.options.days", 1)
        if self.reviews_per_user is not None:
            check_range(self.reviews_per_user, "dataset.options.reviews_per_user", 1.0)
        if self.text_informativeness is not None:
            check_range(self.text_informativeness, "dataset.options.text_informativeness", 0.0, 1.0)
        check_range(self.text_nuisance, "dataset.options.text_nuisance", 0.0, 1.0)
        check_range(self.text_error_rate, "dataset.options.text_error_rate", 0.0, 1.0)
        if self.n_users * self.min_reviews_per_user > self.target_reviews:
            raise ConfigError(f"n_reviews ({self.target_reviews}) must be at least n_users * min_reviews_per_user "
                              f"({self.n_users * self.min_reviews_per_user})", "dataset.options.n_reviews")


@dataclass
class _World:
    """Latent state of users and restaurants (arrays indexed by user / restaurant)."""

    taste: np.ndarray          # (n_users, D) weighted preference vector
    attributes: np.ndarray     # (n_items, D) multi-hot attributes
    user_city: np.ndarray      # (n_users,)
    user_price: np.ndarray     # (n_users,) preferred price level 0..3
    user_age: np.ndarray       # (n_users,)
    item_city: np.ndarray      # (n_items,)
    item_cuisines: np.ndarray  # (n_items, 2) second = -1 when a single cuisine
    item_price: np.ndarray     # (n_items,)
    item_ambience: np.ndarray  # (n_items,)
    item_quality: np.ndarray   # (n_items,)
    popularity: np.ndarray     # (n_items,) unnormalised


def load(path: Path | None = None, options: Options | None = None) -> Dataset:
    """Generate the synthetic world; ``path`` is unused."""
    opts = options or Options()
    rng = np.random.default_rng(opts.seed)
    world = _make_world(rng, opts)
    users, items = _sample_reviews(rng, opts, world)
    match = np.einsum("nd,nd->n", world.taste[users], world.attributes[items])
    all_match = world.taste @ world.attributes.T
    mu, sigma = float(all_match.mean()), float(all_match.std()) or 1.0
    latent = ((match - mu) / sigma + opts.quality_weight * world.item_quality[items] + opts.positive_skew
              + opts.rating_noise * rng.standard_normal(len(users)))
    ratings = 1 + (latent[:, None] > np.asarray(RATING_CUTS)[None, :]).sum(axis=1)
    timestamps = _timestamps(rng, opts, users)
    names = _names(rng, opts.n_items)
    reviews = _review_texts(rng, opts, world, users, items, ratings, names)

    n_c = opts.n_cuisines
    cuisines = [list(CUISINES[c] for c in row if c >= 0) for row in world.item_cuisines]
    item_ids = [f"r{i:05d}" for i in range(opts.n_items)]
    user_ids = [f"u{u:05d}" for u in range(opts.n_users)]
    item_features = pd.DataFrame({
        "cuisine": cuisines,
        "price": np.asarray(PRICES, dtype=object)[world.item_price],
        "city": np.asarray(CITY_NAMES, dtype=object)[world.item_city],
        "ambience": np.asarray(AMBIENCES, dtype=object)[world.item_ambience],
    }, index=item_ids)
    user_features = pd.DataFrame({
        "home_city": np.asarray(CITY_NAMES, dtype=object)[world.user_city],
        "price_preference": np.asarray(PRICES, dtype=object)[world.user_price],
        "age_band": np.asarray(AGE_BANDS, dtype=object)[world.user_age],
    }, index=user_ids)
    item_text = pd.Series(_descriptions(rng, world, names, cuisines), index=item_ids)
    user_text = None
    if opts.text_informativeness is not None:
        text_rng = np.random.default_rng([opts.seed, 0x7E57, opts.text_seed])
        user_text = pd.Series(_user_bios(text_rng, opts, world), index=user_ids)
        item_text = pd.Series(_item_texts(text_rng, opts, world, names), index=item_ids)
    interactions = pd.DataFrame({
        "user": np.asarray(user_ids, dtype=object)[users],
        "item": np.asarray(item_ids, dtype=object)[items],
        "rating": ratings.astype(np.float32),
        "timestamp": timestamps,
        "review": reviews,
    })
    dims = ([f"cuisine:{c}" for c in CUISINES[:n_c]] + [f"price:{p}" for p in PRICES]
            + [f"ambience:{a}" for a in AMBIENCES])
    fields = [FieldSpec("cuisine", "token_seq", "item"), FieldSpec("price", "token", "item"),
              FieldSpec("city", "token", "item"), FieldSpec("ambience", "token", "item"),
              FieldSpec("home_city", "token", "user"), FieldSpec("price_preference", "token", "user"),
              FieldSpec("age_band", "token", "user")]
    meta = {
        "format": "synthetic",
        "seed": opts.seed,
        "options": asdict(opts),
        "rating_scale": [1, 5],
        "label_threshold": 4,
        "ground_truth_dims": dims,
        "ground_truth_note": "user_taste[u] @ item_attributes[i] is the true taste match (weights included); "
                             "ratings add item_quality, positive_skew and noise",
    }
    return build_dataset(
        "synthetic", interactions, source=f"synthetic:{opts.seed}",
        user_features=user_features, item_features=item_features, fields=fields,
        user_text=user_text, item_text=item_text, user_universe=user_ids, item_universe=item_ids,
        ground_truth={"user_taste": world.taste.astype(np.float32),
                      "item_attributes": world.attributes.astype(np.float32),
                      "item_quality": world.item_quality.astype(np.float32)},
        meta=meta,
    )


def _make_world(rng: np.random.Generator, opts: Options) -> _World:
    n_u, n_i, n_c, n_city = opts.n_users, opts.n_items, opts.n_cuisines, opts.n_cities
    n_p, n_a = len(PRICES), len(AMBIENCES)
    city_share = rng.dirichlet(np.full(n_city, 3.0))
    cuisine_share = rng.dirichlet(np.full(n_c, 4.0))

    # Restaurants.
    item_city = rng.choice(n_city, size=n_i, p=city_share)
    first = rng.choice(n_c, size=n_i, p=cuisine_share)
    second = rng.choice(n_c, size=n_i, p=cuisine_share)
    has_second = (rng.random(n_i) < 0.35) & (second != first)
    item_cuisines = np.stack([first, np.where(has_second, second, -1)], axis=1)
    item_price = rng.choice(n_p, size=n_i, p=[0.3, 0.4, 0.2, 0.1])
    item_ambience = rng.choice(n_a, size=n_i, p=[0.35, 0.15, 0.2, 0.15, 0.15])
    item_quality = rng.standard_normal(n_i)
    ranks = rng.permutation(n_i) + 1
    popularity = ranks.astype(np.float64) ** (-opts.popularity_exponent) * np.exp(0.5 * item_quality)
    attributes = np.zeros((n_i, n_c + n_p + n_a))
    rows = np.arange(n_i)
    attributes[rows, first] = 1.0
    attributes[rows[has_second], second[has_second]] = 1.0
    attributes[rows, n_c + item_price] = 1.0
    attributes[rows, n_c + n_p + item_ambience] = 1.0

    # Users: cuisine taste (favourite = 1), price preference shaped by age, ambience taste.
    user_city = rng.choice(n_city, size=n_u, p=city_share)
    user_age = rng.choice(len(AGE_BANDS), size=n_u, p=[0.15, 0.3, 0.25, 0.18, 0.12])
    cuisine_pref = rng.dirichlet(opts.taste_concentration * n_c * cuisine_share, size=n_u)
    cuisine_pref = cuisine_pref / np.maximum(cuisine_pref.max(axis=1, keepdims=True), 1e-12)
    price_centre = np.clip(0.8 + 0.35 * user_age + rng.normal(0, 0.8, n_u), 0, n_p - 1)
    user_price = np.rint(price_centre).astype(np.int64)
    sensitivity = rng.uniform(0.3, 1.5, n_u)
    levels = np.arange(n_p)
    price_pref = sensitivity[:, None] * (np.exp(-0.5 * (levels[None, :] - price_centre[:, None]) ** 2) - 0.5)
    ambience_pref = rng.dirichlet(np.full(n_a, 0.7), size=n_u)
    ambience_pref = ambience_pref / ambience_pref.max(axis=1, keepdims=True)
    taste = np.concatenate([opts.cuisine_weight * cuisine_pref, opts.price_weight * price_pref,
                            opts.ambience_weight * ambience_pref], axis=1)
    return _World(taste, attributes, user_city, user_price, user_age, item_city, item_cuisines,
                  item_price, item_ambience, item_quality, popularity)


def _sample_reviews(rng: np.random.Generator, opts: Options, world: _World) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, restaurant) pairs, about ``n_reviews`` of them, as two int arrays."""
    n_u, n_i = opts.n_users, opts.n_items
    activity = rng.lognormal(0.0, opts.activity_sigma, n_u)
    extra = rng.multinomial(opts.target_reviews - opts.min_reviews_per_user * n_u, activity / activity.sum())
    counts = opts.min_reviews_per_user + extra
    # Nobody reviews more than ~80% of their home city's restaurants: move the excess to other users.
    home_items = np.bincount(world.item_city, minlength=opts.n_cities)[world.user_city]
    cap = np.maximum(opts.min_reviews_per_user, np.floor(0.8 * home_items)).astype(np.int64)
    for _ in range(4):
        excess = int(np.maximum(counts - cap, 0).sum())
        counts = np.minimum(counts, cap)
        room = activity * (counts < cap)
        if excess == 0 or room.sum() == 0:
            break
        counts = counts + rng.multinomial(excess, room / room.sum())
    counts = np.minimum(counts, cap)

    # Each user picks k_home restaurants at home and the rest elsewhere, without replacement, with
    # probability proportional to popularity * exp(choice_bias * match) (Gumbel top-k sampling).
    match = world.taste @ world.attributes.T                                 # (n_users, n_items)
    match = (match - match.mean()) / (match.std() or 1.0)
    log_weight = np.log(world.popularity)[None, :] + opts.choice_bias * match
    keys = log_weight + rng.gumbel(size=log_weight.shape)
    home = world.user_city[:, None] == world.item_city[None, :]
    k_home = np.minimum(rng.binomial(counts, opts.same_city_prob), home.sum(axis=1))
    k_away = np.minimum(counts - k_home, n_i - home.sum(axis=1))
    users, items = [], []
    for in_city, k in ((home, k_home), (~home, k_away)):
        order = np.argsort(np.where(in_city, -keys, np.inf), axis=1)  # best first
        take = np.arange(n_i)[None, :] < k[:, None]
        users.append(np.repeat(np.arange(n_u), k))
        items.append(order[take])
    users_all, items_all = np.concatenate(users), np.concatenate(items)
    shuffle = rng.permutation(len(users_all))
    return users_all[shuffle], items_all[shuffle]


def _timestamps(rng: np.random.Generator, opts: Options, users: np.ndarray) -> np.ndarray:
    """Seconds: each user joins at some point in the first 60% of the period and reviews after it."""
    span = opts.days * SECONDS_PER_DAY
    join = rng.uniform(0, 0.6 * span, opts.n_users)
    t = join[users] + rng.random(len(users)) * (span - join[users])
    return np.floor(START_TIME + t)


def _names(rng: np.random.Generator, n: int) -> list[str]:
    a = rng.integers(0, len(_NAME_FIRST), n)
    b = rng.integers(0, len(_NAME_SECOND), n)
    return [f"{_NAME_FIRST[x]} {_NAME_SECOND[y]}" for x, y in zip(a, b)]


def _descriptions(rng: np.random.Generator, world: _World, names: list[str], cuisines: list[list[str]]) -> list[str]:
    n = len(names)
    tpl = rng.integers(0, len(_DESCRIPTION_TEMPLATES), n)
    dish_k = rng.integers(0, 3, n)
    out = []
    for i in range(n):
        cs = cuisines[i]
        out.append(_DESCRIPTION_TEMPLATES[tpl[i]].format(
            name=names[i], amb=_AMBIENCE_WORDS[AMBIENCES[world.item_ambience[i]]],
            cuisine=" and ".join(c.capitalize() for c in cs), city=CITY_NAMES[world.item_city[i]],
            pw=_PRICE_WORDS[world.item_price[i]], price=PRICES[world.item_price[i]],
            dish=_DISHES[cs[0]][dish_k[i]]))
    return out


def _with_nuisance(rng: np.random.Generator, facts: list[str], pool: tuple[str, ...], q: float, **fmt) -> str:
    """``facts`` in order with up to six nuisance sentences (each slot filled with probability q)
    inserted at random positions."""
    picked = [pool[k].format(**fmt) for k in rng.permutation(len(pool))[:6][rng.random(6) < q]]
    out = list(facts)
    for sentence in picked:
        out.insert(int(rng.integers(0, len(out) + 1)), sentence)
    return " ".join(out)


def _user_bios(rng: np.random.Generator, opts: Options, world: _World) -> list[str]:
    """One bio per user stating (with probability p each) the user's true tastes (see the module doc)."""
    p, err, n_c = float(opts.text_informativeness), opts.text_error_rate, opts.n_cuisines
    n_p = len(PRICES)
    cuisine = world.taste[:, :n_c] / max(opts.cuisine_weight, 1e-12)
    ambience = world.taste[:, n_c + n_p:] / max(opts.ambience_weight, 1e-12)
    price_pref = world.taste[:, n_c:n_c + n_p] / max(opts.price_weight, 1e-12)
    sensitivity = price_pref.max(axis=1) - price_pref.min(axis=1)
    out = []
    for u in range(len(cuisine)):
        def wrong(value: int, n: int) -> int:
            return int(rng.integers(0, n)) if rng.random() < err else value

        facts = []
        order = np.argsort(-cuisine[u], kind="stable")
        for c in order[:3]:
            if cuisine[u, c] >= 0.4 and rng.random() < p:
                name = CUISINES[wrong(int(c), n_c)]
                facts.append(_USER_LIKE[rng.integers(0, len(_USER_LIKE))].format(
                    cuisine=name.capitalize(), dish=_DISHES[name][rng.integers(0, 3)]))
        for c in order[::-1][:2]:
            if cuisine[u, c] < 0.05 and rng.random() < p:
                facts.append(_USER_DISLIKE[rng.integers(0, len(_USER_DISLIKE))].format(
                    cuisine=CUISINES[wrong(int(c), n_c)].capitalize()))
        if rng.random() < p:
            level = wrong(int(world.user_price[u]), n_p)
            facts.append(_USER_PRICE[rng.integers(0, len(_USER_PRICE))].format(pw=_PRICE_WORDS[level],
                                                                              price=PRICES[level]))
        if rng.random() < p:
            pool = _USER_SENSITIVE if (sensitivity[u] > 0.7) != (rng.random() < err) else _USER_RELAXED
            facts.append(pool[rng.integers(0, len(pool))])
        a_order = np.argsort(-ambience[u], kind="stable")
        if rng.random() < p:
            amb = AMBIENCES[wrong(int(a_order[0]), len(AMBIENCES))]
            facts.append(_USER_AMB_LIKE[rng.integers(0, 2)].format(amb=_AMBIENCE_WORDS[amb]))
        if ambience[u, a_order[-1]] < 0.2 and rng.random() < p:
            amb = AMBIENCES[wrong(int(a_order[-1]), len(AMBIENCES))]
            facts.append(_USER_AMB_DISLIKE[rng.integers(0, 2)].format(amb=_AMBIENCE_WORDS[amb]))
        text = _with_nuisance(rng, facts, _USER_NUISANCE, opts.text_nuisance,
                              first=_FIRST_NAMES[rng.integers(0, len(_FIRST_NAMES))],
                              year=int(rng.integers(2010, 2021)), job=_JOBS[rng.integers(0, len(_JOBS))])
        out.append(text or "A diner.")
    return out


def _item_texts(rng: np.random.Generator, opts: Options, world: _World, names: list[str]) -> list[str]:
    """One description per restaurant stating (with probability p each) cuisine, price, ambience and
    the hidden quality (by quintile), after its name and city."""
    p, err, n_c = float(opts.text_informativeness), opts.text_error_rate, opts.n_cuisines
    quintile = np.searchsorted(np.quantile(world.item_quality, [0.2, 0.4, 0.6, 0.8]), world.item_quality)
    out = []
    for i, name in enumerate(names):
        def wrong(value: int, n: int) -> int:
            return int(rng.integers(0, n)) if rng.random() < err else value

        facts = [f"{name} in {CITY_NAMES[world.item_city[i]]}."]
        if rng.random() < p:
            c = CUISINES[wrong(int(world.item_cuisines[i, 0]), n_c)]
            facts.append(f"It serves {c.capitalize()} food; try the {_DISHES[c][rng.integers(0, 3)]}.")
        if rng.random() < p:
            level = wrong(int(world.item_price[i]), len(PRICES))
            facts.append(f"Prices are {_PRICE_WORDS[level]} ({PRICES[level]}).")
        if rng.random() < p:
            amb = AMBIENCES[wrong(int(world.item_ambience[i]), len(AMBIENCES))]
            facts.append(f"The atmosphere is {_AMBIENCE_WORDS[amb]}.")
        if rng.random() < p:
            q = wrong(int(quintile[i]), 5)
            facts.append(_QUALITY_SENT[q][rng.integers(0, 2)])
        out.append(_with_nuisance(rng, facts, _ITEM_NUISANCE, opts.text_nuisance,
                                  num=int(rng.integers(1, 400)), year=int(rng.integers(1960, 2021)),
                                  first=_FIRST_NAMES[rng.integers(0, len(_FIRST_NAMES))]))
    return out


def _review_texts(rng: np.random.Generator, opts: Options, world: _World, users: np.ndarray,
                  items: np.ndarray, ratings: np.ndarray, names: list[str]) -> list[str]:
    """One review per (user, item, rating): opening, food, price, ambience, closing, optional noise.

    Every sentence variant is formatted once into a lookup table; a review is a join of table
    entries chosen with vectorised indexing.
    """
    n = len(users)
    n_c = opts.n_cuisines
    mood = np.where(ratings <= 2, 0, np.where(ratings == 3, 1, 2))
    price = world.item_price[items]
    price_gap = price - world.user_price[users]
    price_fit = np.where(price_gap > 0, 0, np.where(price_gap < 0, 2, 1))
    ambience = world.item_ambience[items]
    # The ambience sentence follows the user's taste for it, the food sentence the overall mood.
    amb_pref = world.taste[users, n_c + len(PRICES) + ambience] / max(opts.ambience_weight, 1e-12)
    amb_mood = np.where(amb_pref < 0.3, 0, np.where(amb_pref < 0.7, 1, 2))
    cuisine_k = np.where(world.item_cuisines[items, 1] >= 0, rng.integers(0, 2, n), 0)
    cuisine = world.item_cuisines[items, cuisine_k]

    opening = np.array([[[t.format(name=nm) for t in _OPENING[m]] for m in range(3)] for nm in names],
                       dtype=object)                                            # (items, 3, 4)
    food = np.array([[[[t.format(cuisine=CUISINES[c].capitalize(), dish=_DISHES[CUISINES[c]][d])
                        for t in _FOOD[m]] for m in range(3)] for d in range(3)] for c in range(n_c)],
                    dtype=object)                                               # (cuisines, dish, 3, 3)
    price_sent = np.array([[[t.format(price=p) for t in _PRICE_SENT[f]] for f in range(3)] for p in PRICES],
                          dtype=object)                                         # (prices, 3, 3)
    amb_sent = np.array([[[t.format(amb=a) for t in _AMBIENCE_SENT[m]] for m in range(3)] for a in AMBIENCES],
                        dtype=object)                                           # (ambiences, 3, 2)
    closing = np.array(_CLOSING, dtype=object)                                  # (3, 3)
    off_topic_text = np.array(_OFF_TOPIC, dtype=object)

    empty = np.full(n, "", dtype=object)
    pick = rng.integers(0, 12, size=(n, 7))
    off_topic = rng.random(n) < opts.review_noise
    contradict = rng.random(n) < opts.review_noise / 2
    early = rng.random(n) < 0.5
    slot_open = opening[items, mood, pick[:, 0] % 4]
    slot_food = food[cuisine, pick[:, 1] % 3, mood, pick[:, 2] % 3]
    slot_price = np.where(rng.random(n) < 0.7, price_sent[price, price_fit, pick[:, 3] % 3], empty)
    slot_amb = np.where(rng.random(n) < 0.6, amb_sent[ambience, amb_mood, pick[:, 4] % 2], empty)
    noise = off_topic_text[rng.integers(0, len(_OFF_TOPIC), n)]
    slot_off_early = np.where(off_topic & early, noise, empty)
    slot_off_late = np.where(off_topic & ~early, noise, empty)
    slot_contra = np.where(contradict, closing[2 - mood, pick[:, 5] % 3], empty)
    slot_close = closing[mood, pick[:, 6] % 3]
    slots = (slot_open, slot_off_early, slot_food, slot_price, slot_off_late, slot_amb, slot_contra, slot_close)
    return [" ".join(p for p in row if p) for row in zip(*slots)]
