"""What the course's World Bank WDI indicators are: names, titles, units and valid ranges.

One table shared by ``iome data build`` (from the raw DDF copies) and ``iome data refresh``
(from the World Bank API), so both produce identical files and schemas.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Indicator:
    name: str          # resource name in data/datapackage.json and file data/wdi/<name>.csv
    code: str          # WDI indicator code
    title: str         # World Bank indicator name
    unit: str
    group: str         # financing, workforce, outcomes, burden, context
    maximum: float | None = None
    positive: bool = False  # zero is impossible: a stored 0 is a missing value (e.g. Yemen's GNI), flagged
    # plausibility: a one-year spike in the bad direction ("down" for life expectancy, "up" for mortality)
    # larger than this fraction of the mean of the two adjacent years is flagged, unless a documented
    # mass-mortality event explains it (DOCUMENTED_CRISES below)
    spike: float | None = None
    spike_direction: str = "up"
    all_zero_is_missing: bool = False  # a country whose every value is 0 has no data, not zero

    @property
    def ddf_file(self) -> str:
        return f"ddf--datapoints--{self.code.lower().replace('.', '_')}--by--geo--time.csv"


PCT = "% (0-100)"
INDICATORS: tuple[Indicator, ...] = (
    # health financing
    Indicator("health_exp_per_capita_usd", "SH.XPD.CHEX.PC.CD",
              "Current health expenditure per capita (current US$)", "current US$", "financing", positive=True),
    Indicator("health_exp_per_capita_ppp", "SH.XPD.CHEX.PP.CD",
              "Current health expenditure per capita, PPP (current international $)", "current international $ (PPP)",
              "financing", positive=True),
    Indicator("health_exp_pct_gdp", "SH.XPD.CHEX.GD.ZS", "Current health expenditure (% of GDP)", "% of GDP",
              "financing", 100, positive=True),
    Indicator("gov_health_exp_share", "SH.XPD.GHED.CH.ZS",
              "Domestic general government health expenditure (% of current health expenditure)",
              "% of current health expenditure", "financing", 100),
    Indicator("private_health_exp_share", "SH.XPD.PVTD.CH.ZS",
              "Domestic private health expenditure (% of current health expenditure)",
              "% of current health expenditure", "financing", 100),
    Indicator("oop_share", "SH.XPD.OOPC.CH.ZS", "Out-of-pocket expenditure (% of current health expenditure)",
              "% of current health expenditure", "financing", 100),
    Indicator("external_health_exp_share", "SH.XPD.EHEX.CH.ZS",
              "External health expenditure (% of current health expenditure)", "% of current health expenditure",
              "financing", 100),
    Indicator("catastrophic_spending_10pct", "SH.UHC.OOPC.10.ZS",
              "Proportion of population spending more than 10% of household consumption or income on "
              "out-of-pocket health care expenditure (%)", "% of population", "financing", 100),
    # workforce
    Indicator("physicians_per_1000", "SH.MED.PHYS.ZS", "Physicians (per 1,000 people)", "per 1,000 people",
              "workforce"),
    Indicator("nurses_midwives_per_1000", "SH.MED.NUMW.P3", "Nurses and midwives (per 1,000 people)",
              "per 1,000 people", "workforce"),
    Indicator("hospital_beds_per_1000", "SH.MED.BEDS.ZS", "Hospital beds (per 1,000 people)", "per 1,000 people",
              "workforce"),
    # outcomes
    Indicator("life_expectancy", "SP.DYN.LE00.IN", "Life expectancy at birth, total (years)", "years", "outcomes",
              100, positive=True, spike=0.25, spike_direction="down"),
    Indicator("infant_mortality", "SP.DYN.IMRT.IN", "Mortality rate, infant (per 1,000 live births)",
              "per 1,000 live births", "outcomes", 1000, positive=True, spike=0.5),
    Indicator("under5_mortality", "SH.DYN.MORT", "Mortality rate, under-5 (per 1,000 live births)",
              "per 1,000 live births", "outcomes", 1000, positive=True, spike=0.5),
    Indicator("neonatal_mortality", "SH.DYN.NMRT", "Mortality rate, neonatal (per 1,000 live births)",
              "per 1,000 live births", "outcomes", 1000, positive=True, spike=0.5),
    Indicator("maternal_mortality", "SH.STA.MMRT",
              "Maternal mortality ratio (modeled estimate, per 100,000 live births)", "per 100,000 live births",
              "outcomes", positive=True),
    Indicator("uhc_service_coverage", "SH.UHC.SRVS.CV.XD", "UHC service coverage index", "index (0-100)",
              "outcomes", 100),
    # burden of disease
    Indicator("tb_incidence", "SH.TBS.INCD", "Incidence of tuberculosis (per 100,000 people)",
              "per 100,000 people", "burden"),
    Indicator("deaths_communicable_share", "SH.DTH.COMM.ZS",
              "Cause of death, by communicable diseases and maternal, prenatal and nutrition conditions "
              "(% of total)", "% of all deaths", "burden", 100),
    Indicator("deaths_ncd_share", "SH.DTH.NCOM.ZS", "Cause of death, by non-communicable diseases (% of total)",
              "% of all deaths", "burden", 100),
    Indicator("hiv_prevalence", "SH.DYN.AIDS.ZS", "Prevalence of HIV, total (% of population ages 15-49)",
              "% of population aged 15-49", "burden", 100),
    Indicator("immunization_dpt3", "SH.IMM.IDPT", "Immunization, DPT (% of children ages 12-23 months)",
              "% of children aged 12-23 months", "burden", 100),
    Indicator("immunization_measles", "SH.IMM.MEAS", "Immunization, measles (% of children ages 12-23 months)",
              "% of children aged 12-23 months", "burden", 100),
    # context
    Indicator("gdp_per_capita_usd", "NY.GDP.PCAP.CD", "GDP per capita (current US$)", "current US$", "context",
              positive=True),
    Indicator("gdp_per_capita_ppp", "NY.GDP.PCAP.PP.CD", "GDP per capita, PPP (current international $)",
              "current international $ (PPP)", "context", positive=True),
    Indicator("gni_per_capita_atlas", "NY.GNP.PCAP.CD", "GNI per capita, Atlas method (current US$)",
              "current US$", "context", positive=True),
    Indicator("population", "SP.POP.TOTL", "Population, total", "people", "context", positive=True),
    Indicator("migrant_stock_share", "SM.POP.TOTL.ZS", "International migrant stock (% of population)",
              "% of population", "context", 100, all_zero_is_missing=True),
    Indicator("rd_expenditure_pct_gdp", "GB.XPD.RSDV.GD.ZS", "Research and development expenditure (% of GDP)",
              "% of GDP", "context", 100),
    Indicator("researchers_per_million", "SP.POP.SCIE.RD.P6", "Researchers in R&D (per million people)",
              "per million people", "context"),
)
BY_NAME = {i.name: i for i in INDICATORS}

# Plausibility rules (iome data build and iome data refresh flag what breaks them; flagged values are kept
# out of data/ and listed in datapackage.json under each resource's "excluded" and on the Data sources page).
#
# - Zero: the mortality rates and ratios are UN IGME / WHO-led modelled national estimates (the World Bank
#   takes them from those inter-agency groups) and life expectancy comes from UN World Population
#   Prospects; none of these models can give exactly 0 for a country, so a stored 0 is a missing value.
# - Spikes: life expectancy and child mortality move slowly from year to year except in a mass-mortality
#   crisis (UN WPP and UN IGME add crisis deaths from wars, genocides, famines and disasters to the year in
#   which they happened). A one-year dip of life expectancy of more than 25% below the mean of the two
#   adjacent years, or a one-year rise of infant, neonatal or under-5 mortality of more than 50% above it,
#   is therefore kept only when a documented event below explains it. In the raw copy this isolates the
#   Central African Republic's 2009, 2019 and 2022 values (life expectancy 14.7, 31.5 and 18.8 years,
#   under-5 mortality 479, 243 and 387 per 1,000), years with no mass-mortality event that would explain
#   them; every other spike in the copy is one of the events listed here.
# - All zeros: a migrant-stock share of exactly 0% in every year of a territory's series (Saint-Martin in the
#   raw copy) is a placeholder for a missing estimate, not a measurement; a 0 in some years only (China,
#   Cuba...) is kept.
DOCUMENTED_CRISES: dict[tuple[str, int], str] = {
    ("ARM", 1988): "Spitak earthquake, December 1988",
    ("BDI", 1972): "mass killings in Burundi, 1972",
    ("BGD", 1971): "Bangladesh Liberation War, 1971",
    ("BHS", 2019): "Hurricane Dorian, 2019",
    ("BIH", 1992): "war in Bosnia and Herzegovina, 1992-95",
    ("BIH", 1993): "war in Bosnia and Herzegovina, 1992-95",
    ("HND", 1998): "Hurricane Mitch, 1998",
    ("HTI", 2010): "Haiti earthquake, January 2010",
    ("KHM", 1975): "Khmer Rouge regime, 1975-79",
    ("KHM", 1976): "Khmer Rouge regime, 1975-79",
    ("KHM", 1977): "Khmer Rouge regime, 1975-79",
    ("KHM", 1978): "Khmer Rouge regime, 1975-79",
    ("LBN", 1976): "Lebanese civil war, 1975-90",
    ("LBN", 1982): "1982 Lebanon war",
    ("LKA", 2004): "Indian Ocean tsunami, December 2004",
    ("LKA", 2009): "last phase of the Sri Lankan civil war, 2009",
    ("RWA", 1994): "genocide against the Tutsi in Rwanda, 1994",
    ("SSD", 1988): "famine in southern Sudan during the Second Sudanese Civil War, 1988",
    ("SSD", 1993): "Second Sudanese Civil War, 1983-2005",
    ("SSD", 1998): "Bahr el Ghazal famine, 1998",
}
