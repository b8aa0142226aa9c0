"""Phrase tables of the findings labeler (radgen.evaluate.labeler): pure data, no logic.

Regular-expression fragments matched on normalised text (lowercase words separated by single spaces) and
word-bounded by the labeler. Kept apart from the engine because they are what a reader edits to extend the
vocabulary; the module is long because the vocabulary is, not because it does much.
"""

from __future__ import annotations

_ADV = r"(?:mildly|moderately|markedly|severely|slightly|minimally|massively|significantly|again|stably|still|now)"
_NODE_SITE = r"(?:hilar|mediastinal|paratracheal|subcarinal|axillary|supraclavicular|lymph)"

#: regular-expression fragments (matched on normalised text, word-bounded) per finding.
MENTIONS: dict[str, tuple[str, ...]] = {
    "consolidation": (r"consolidat\w*",),
    "opacity": (
        r"opaci\w*",
        r"infiltrat\w*",
        r"air ?space (?:disease|process|filling|shadowing)",
        r"ground glass",
        r"densit(?:y|ies)",
        r"haz(?:y|iness)",
    ),
    "effusion": (
        r"effusions?",
        r"pleural fluid",
        r"hydro ?pneumothora\w*",
        r"hydrothora\w*",
        r"fluid (?:in|within) the (?:\w+ )?(?:pleural|fissure\w*)",
        r"blunt\w* of the (?:\w+ ){0,2}(?:costophrenic|cp) (?:angles?|sulc\w*|recess\w*)",
        r"(?:costophrenic|cp) (?:angles?|sulc\w*|recess\w*) (?:is |are |remain |remains )?blunt\w*",
    ),
    "nodule": (r"nodul\w*", r"micronodul\w*", r"fibronodul\w*", r"coin lesions?"),
    "cavity": (r"cavit\w*",),
    "fibrosis": (
        r"fibros\w*",
        r"fibrotic",
        r"fibrous",
        r"fibronodul\w*",
        r"fibrocalcific",
        r"fibrocavit\w*",
        r"scar(?:s|ring|red)?",
        r"honeycomb\w*",
    ),
    "pneumonia": (r"pneumoni\w*", r"bronchopneumoni\w*", r"pna", r"infect\w*"),
    "tuberculosis": (
        r"tuberculo\w*",
        r"tb",
        r"ptb",
        r"koch\w*",
        r"mycobacteri\w*",
        r"miliary",
        r"ghon",
        r"ranke",
    ),
    "lymphadenopathy": (
        r"lymphadenopath\w*",
        r"adenopath\w*",
        r"lad",
        r"enlarged (?:\w+ ){0,2}(?:lymph )?nodes?",
        rf"{_NODE_SITE} (?:lymph )?nodes? (?:is |are |appear |appears )?(?:{_ADV} )?enlarge\w*",
        r"(?:lymph node|nodal|hilar|mediastinal) (?:enlargement|fullness)",
        r"enlarged (?:\w+ ){0,2}hil(?:um|a|ar)",
    ),
    "atelectasis": (
        r"atelecta\w*",
        r"(?:lobar|lobe|segmental|lung) collapse",
        r"collapse of the (?:\w+ ){0,3}(?:lobe|lung)",
        r"collapsed (?:\w+ )?(?:lobe|lung)",
        r"volume loss",
    ),
    "cardiomegaly": (
        r"cardiomegal\w*",
        r"cardiac enlargement",
        r"enlarge(?:d|ment of the) (?:heart|cardiac (?:silhouette|shadow|size)|cardiomediastinal silhouette)",
        r"(?:heart|heart size|cardiac silhouette|cardiac shadow|cardiac size|cardiomediastinal silhouette)"
        rf" (?:is |are |appears |remains |is again )?(?:{_ADV} )?(?:enlarged|increased)",
    ),
    "pneumothorax": (r"pneumothora\w*", r"ptx", r"hydro ?pneumothora\w*"),
    "edema": (
        r"o?edema\w*",
        r"(?:vascular|pulmonary|venous) congestion",
        r"chf",
        r"(?:congestive )?heart failure",
        r"kerley",
        r"cephali[sz]ation",
    ),
}

#: phrases that look like a mention but are not one (matches overlapping them are dropped).
UNMENTIONS: dict[str, tuple[str, ...]] = {
    "effusion": (r"pericardial effusions?", r"joint effusions?"),
    "opacity": (r"(?:bone|bony|osseous|mineral|breast|nipple) densit(?:y|ies)",),
    "cavity": (r"(?:pleural|thoracic|oral|abdominal|nasal|peritoneal|chest|nasal) cavit(?:y|ies)",),
    "fibrosis": (r"cystic fibrosis",),
    "lymphadenopathy": (r"lad (?:stent\w*|territory|artery|coronary|distribution|graft)",),
    "edema": (r"soft tissue o?edema\w*",),
}

#: phrases that state the absence of a finding directly (a negative mention).
NORMAL_PHRASES: dict[str, tuple[str, ...]] = {
    "cardiomegaly": (
        r"(?:heart|cardiac|cardiomediastinal) (?:size|silhouette|contours?|shadow)(?: and (?:[a-z]+ ){0,5}?[a-z]+)?"
        r" (?:is |are |appears? |remains? )?(?:within normal limits|normal|unremarkable|not enlarged)",
        r"normal (?:heart|cardiac|cardiomediastinal) (?:size|silhouette|contours?)",
        r"heart (?:is |appears )?(?:normal in size|of normal size|not enlarged|normal)",
    ),
    "effusion": (
        r"(?:costophrenic|cp) (?:angles?|sulci|recesses) (?:are |is |remain )?(?:sharp|clear|preserved|normal)",
    ),
    "lymphadenopathy": (
        r"(?:hila|hilar (?:contours|structures|regions|shadows)) (?:are |is |appear )?(?:normal|unremarkable)",
    ),
}

#: abnormalities outside FINDINGS: a positive or uncertain one cancels no_finding.
OTHER_ABNORMALITIES: tuple[str, ...] = (
    r"granulom\w*",
    r"fractur\w*",
    r"pacemaker",
    r"pacer",
    r"defibrillator",
    r"catheter",
    r"picc",
    r"(?:endotracheal|chest|feeding|nasogastric|ng|et|tracheostomy) tubes?",
    r"sternotomy",
    r"(?:surgical )?clips",
    r"hernia",
    r"emphysema\w*",
    r"hyperinflat\w*",
    r"hyperexpan\w*",
    r"copd",
    r"scoliosis",
    r"kyphosis",
    r"degenerative",
    r"osteophyt\w*",
    r"spondylosis",
    r"(?:pleural )?thickening",
    r"calcifi\w*",
    r"tortuous",
    r"ectatic",
    r"atheroscleros\w*",
    r"masses",
    r"mass",
    r"lesions?",
    r"bronchiectasis",
    r"elevat\w* (?:of the )?(?:\w+ )?hemidiaphragm",
    r"(?:hemidiaphragm|diaphragm) is elevated",
)

#: masked before anything else: they contain trigger words but do not negate.
PSEUDO_NEGATIONS: tuple[str, ...] = (
    r"no (?:significant |definite |appreciable |substantial |major )?(?:interval )?"
    r"(?:change|increase|decrease|improvement|progression|worsening|enlargement)",
    r"without (?:significant |definite )?(?:interval )?(?:change|increase|decrease|progression)",
    r"not (?:significantly )?changed",
    r"not clear",
    r"not only",
    r"no further",
    r"to suggest",
    r"to indicate",
)

NEGATION_POST: tuple[str, ...] = (
    r"(?:not|no longer) (?:\w+ly )?(?:seen|identified|present|visuali[sz]ed|evident|appreciated|demonstrated|"
    r"noted|detected|visible|apparent|shown)",
    r"unlikely",
    r"(?:was |has been |is |been )?ruled out",
    r"(?:has |have |had )?resolved",
    r"(?:has |have )?(?:cleared|disappeared)",
    r"(?:is |are )?absent",
    r"excluded",
)

NEGATION_PRE: tuple[str, ...] = (
    r"no",
    r"not",
    r"nor",
    r"neither",
    r"without",
    r"absence of",
    r"negative for",
    r"free of",
    r"clear of",
    r"rule out",
    r"r o",
    r"resolution of",
    r"resolved",
    r"never",
    r"denies",
    r"fails? to (?:show|reveal|demonstrate)",
)

UNCERTAIN_POST: tuple[str, ...] = (
    r"(?:cannot|can not|cant|could not|may not|not) (?:be )?(?:entirely |completely |totally )?(?:excluded|ruled out)",
    r"(?:is|are|was|were) (?:also )?(?:possible|possibly present|questioned|suspected|probable|favou?red|"
    r"considered|questionable|not excluded|uncertain)",
    r"(?:is|are) (?:more |most |less |quite )?likely",
    r"(?:may|might|could) (?:also )?be (?:present|seen|noted)",
)

UNCERTAIN_PRE: tuple[str, ...] = (
    r"(?:cannot|can not|cant|could not|not) (?:entirely |completely )?(?:exclude|rule out)",
    r"may",
    r"might",
    r"could",
    r"possibl[ey]",
    r"probabl[ey]",
    r"likely",
    r"presum\w*",
    r"suspect\w*",
    r"suspicio\w* (?:for|of)",  # a bare "suspicious nodule" asserts the nodule
    r"suspicion",
    r"concern(?:ing)? (?:for|of)",
    r"worrisome (?:for|of)",
    r"suggest(?:s|ive of|ive|ing|ed)?",
    r"questionabl[ey]",
    r"question of",
    r"differential (?:diagnosis )?(?:includes?|considerations?)",
    r"consider\w*",
    r"equivocal",
    r"indeterminate",
    r"vs",
    r"versus",
    r"uncertain",
)

TERMINATORS: tuple[str, ...] = (
    r"but",
    r"however",
    r"although",
    r"though",
    r"except(?: for)?",
    r"with the exception of",
    r"which",
    r"who",
    r"whereas",
    r"while",
    r"secondary to",
    r"aside from",
    r"apart from",
    r"other than",
    r"nevertheless",
    r"yet",
    r"there (?:is|are|was|were|has been|have been)",
    r"and (?:there|the|a|an)",
    r"as the (?:cause|source|reason|etiology|origin) of",
)


#: findings whose mention (positive or uncertain) states a class's main finding; normal: the labeler's no_finding.
MAIN_FINDINGS: dict[str, tuple[str, ...]] = {
    "normal": ("no_finding",),
    "pneumonia": ("pneumonia", "consolidation"),
    "tb": ("tuberculosis", "cavity", "nodule", "fibrosis"),
}
