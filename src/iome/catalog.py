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
    positive: bool = False  # zero is impossible: treat a stored 0 as missing (e.g. Yemen's GNI)

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
              100, positive=True),
    Indicator("infant_mortality", "SP.DYN.IMRT.IN", "Mortality rate, infant (per 1,000 live births)",
              "per 1,000 live births", "outcomes", 1000),
    Indicator("under5_mortality", "SH.DYN.MORT", "Mortality rate, under-5 (per 1,000 live births)",
              "per 1,000 live births", "outcomes", 1000),
    Indicator("neonatal_mortality", "SH.DYN.NMRT", "Mortality rate, neonatal (per 1,000 live births)",
              "per 1,000 live births", "outcomes", 1000),
    Indicator("maternal_mortality", "SH.STA.MMRT",
              "Maternal mortality ratio (modeled estimate, per 100,000 live births)", "per 100,000 live births",
              "outcomes"),
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
              "% of population", "context", 100),
    Indicator("rd_expenditure_pct_gdp", "GB.XPD.RSDV.GD.ZS", "Research and development expenditure (% of GDP)",
              "% of GDP", "context", 100),
    Indicator("researchers_per_million", "SP.POP.SCIE.RD.P6", "Researchers in R&D (per million people)",
              "per million people", "context"),
)
BY_NAME = {i.name: i for i in INDICATORS}
