"""Demo data for the pilot city, Yangquan (Shanxi): plain values, loaded by `app.demo.seed`.

Everything here is DEMO DATA for development, tests and demonstrations. District codes are the
real GB/T 2260 codes and the metformin drug code is the one in docs/domain.md; hospital and store
lists, addresses, prices, invented drug codes, people, ID numbers and phone numbers are
illustrative only and must never be mistaken for production reference data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# One password for every demo staff account (patients sign in through WeChat instead).
DEMO_PASSWORD = "Demo-Passw0rd!"  # noqa: S105 - a published demo credential, dev/test only

CITY_ZH = "阳泉市"
CITY_EN = "Yangquan"

URBAN = ("140302", "140303", "140311")
PINGDING = "140321"
YU_COUNTY = "140322"


@dataclass(frozen=True)
class DistrictData:
    code: str
    name_zh: str
    name_en: str
    is_county: bool = False
    is_mountainous: bool = False


@dataclass(frozen=True)
class InstitutionData:
    code: str
    name_zh: str
    name_en: str
    level: str  # 'secondary' | 'tertiary'
    district_code: str
    is_online_pilot: bool = False


@dataclass(frozen=True)
class ChainData:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class StoreData:
    code: str
    fixmedins_code: str  # national designated-pharmacy code: P + area code + 5 digits
    name_zh: str
    name_en: str
    district_code: str
    address_zh: str
    covers: tuple[str, ...]


@dataclass(frozen=True)
class DrugData:
    national_code: str
    generic_name_zh: str
    generic_name_en: str
    product_name_zh: str
    form: str
    strength: str
    pack: str
    manufacturer_zh: str
    price_fen: int
    insurance_class: str  # 'full' | 'partial' | 'self_pay'
    cold_chain: bool = False
    controlled: bool = False


@dataclass(frozen=True)
class StaffData:
    role: str  # 'admin' | 'bureau' | 'doctor' | 'pharmacist' | 'courier'
    username: str
    display_name: str


@dataclass(frozen=True)
class DoctorData:
    username: str
    display_name: str
    institution_code: str
    department_zh: str
    title_zh: str
    specialties: tuple[str, ...]
    max_active_patients: int = 200


@dataclass(frozen=True)
class PharmacyStaffData:
    role: str  # 'pharmacist' | 'courier'
    username: str
    display_name: str
    store_code: str


@dataclass(frozen=True)
class HospitalPharmacistData:
    username: str
    display_name: str
    institution_code: str  # reviews this institution's e-prescriptions


@dataclass(frozen=True)
class PatientData:
    wechat_openid: str
    name: str
    gender: str  # 'male' | 'female' | 'unknown'
    birth_date: date
    insurance_type: str  # '310' employee, '390' urban-rural resident
    district_code: str
    national_id: str
    phone: str
    address: str
    conditions: tuple[str, ...] = field(default=())  # disease codes, informational
    # The year the chronic disease was first diagnosed (病程: the assignment weighs it).
    diagnosed_year: int | None = None


@dataclass(frozen=True)
class CareData:
    patient_openid: str
    doctor_username: str
    kind: str = "primary"


DISTRICTS: tuple[DistrictData, ...] = (
    DistrictData("140302", "城区", "Chengqu District"),
    DistrictData("140303", "矿区", "Kuangqu District"),
    DistrictData("140311", "郊区", "Jiaoqu District"),
    DistrictData("140321", "平定县", "Pingding County", is_county=True, is_mountainous=True),
    DistrictData("140322", "盂县", "Yu County", is_county=True, is_mountainous=True),
)

PILOT_INSTITUTION_CODE = "H14030200001"

# DEMO DATA: 15 designated catalogue-disease institutions (secondary or higher). Names follow
# hospitals of Yangquan; levels and the exact list are illustrative, not the bureau's list. Codes
# take the national 12-character shape (H + the district's GB/T 2260 code + a 5-digit sequence,
# app/reference/codes.py); the sequence numbers are invented.
INSTITUTIONS: tuple[InstitutionData, ...] = (
    InstitutionData(
        PILOT_INSTITUTION_CODE,
        "阳泉市第一人民医院",
        "Yangquan First People's Hospital",
        "tertiary",
        "140302",
        is_online_pilot=True,
    ),
    InstitutionData(
        "H14030200002",
        "阳泉市中医医院",
        "Yangquan Hospital of Traditional Chinese Medicine",
        "tertiary",
        "140302",
    ),
    InstitutionData(
        "H14030200003",
        "阳泉市第二人民医院",
        "Yangquan Second People's Hospital",
        "secondary",
        "140302",
    ),
    InstitutionData(
        "H14030200004", "阳泉市城区人民医院", "Chengqu People's Hospital", "secondary", "140302"
    ),
    InstitutionData(
        "H14030300001",
        "华阳集团总医院",
        "Huayang Group General Hospital (formerly Yangmei Group General Hospital)",
        "tertiary",
        "140303",
    ),
    InstitutionData(
        "H14030300002",
        "阳泉市第三人民医院",
        "Yangquan Third People's Hospital",
        "tertiary",
        "140303",
    ),
    InstitutionData(
        "H14030300003", "阳泉市矿区人民医院", "Kuangqu People's Hospital", "secondary", "140303"
    ),
    InstitutionData(
        "H14030300004",
        "华阳集团一矿医院",
        "Huayang Group No. 1 Mine Hospital",
        "secondary",
        "140303",
    ),
    InstitutionData(
        "H14031100001", "阳泉市郊区人民医院", "Jiaoqu People's Hospital", "secondary", "140311"
    ),
    InstitutionData(
        "H14031100002",
        "华阳集团二矿医院",
        "Huayang Group No. 2 Mine Hospital",
        "secondary",
        "140311",
    ),
    InstitutionData(
        "H14031100003", "阳泉市郊区中医医院", "Jiaoqu Hospital of TCM", "secondary", "140311"
    ),
    InstitutionData(
        "H14032100001", "平定县人民医院", "Pingding County People's Hospital", "secondary", PINGDING
    ),
    InstitutionData(
        "H14032100002", "平定县中医医院", "Pingding County Hospital of TCM", "secondary", PINGDING
    ),
    InstitutionData(
        "H14032200001", "盂县人民医院", "Yu County People's Hospital", "secondary", YU_COUNTY
    ),
    InstitutionData(
        "H14032200002", "盂县中医医院", "Yu County Hospital of TCM", "secondary", YU_COUNTY
    ),
)

CHAIN = ChainData(
    "GKYQ",
    "国药山西国康阳泉连锁有限公司",
    "Sinopharm Shanxi Guokang Yangquan Pharmacy Chain Co., Ltd.",
)

# DEMO DATA: store names and addresses are illustrative. Urban stores deliver to the three urban
# districts; the county stores deliver across their own (mountainous) county.
STORES: tuple[StoreData, ...] = (
    StoreData(
        "GKYQ-CQ01",
        "P14030200001",
        "国康大药房（北大街店）",
        "Guokang Pharmacy, Beidajie",
        "140302",
        "阳泉市城区北大西街88号",
        URBAN,
    ),
    StoreData(
        "GKYQ-CQ02",
        "P14030200002",
        "国康大药房（德胜街店）",
        "Guokang Pharmacy, Deshengjie",
        "140302",
        "阳泉市城区德胜街126号",
        URBAN,
    ),
    StoreData(
        "GKYQ-KQ01",
        "P14030300001",
        "国康大药房（桃北店）",
        "Guokang Pharmacy, Taobei",
        "140303",
        "阳泉市矿区桃北中街45号",
        URBAN,
    ),
    StoreData(
        "GKYQ-JQ01",
        "P14031100001",
        "国康大药房（荫营店）",
        "Guokang Pharmacy, Yinying",
        "140311",
        "阳泉市郊区荫营镇荫营大街210号",
        URBAN,
    ),
    StoreData(
        "GKYQ-PD01",
        "P14032100001",
        "国康大药房（平定冠山店）",
        "Guokang Pharmacy, Pingding Guanshan",
        PINGDING,
        "阳泉市平定县冠山镇宋家庄路36号",
        (PINGDING,),
    ),
    StoreData(
        "GKYQ-YX01",
        "P14032200001",
        "国康大药房（盂县秀水店）",
        "Guokang Pharmacy, Yu County Xiushui",
        YU_COUNTY,
        "阳泉市盂县秀水镇文化路58号",
        (YU_COUNTY,),
    ),
)

# The disease catalogue is the city's own data, not demo data: app/catalogue/editions/*.json,
# loaded by app.catalogue.service.load_catalogue (docs/catalogue.md).

METFORMIN_CODE = "XA10BAE054A001010100001"  # docs/domain.md (codes)

# DEMO DATA: a small drug catalogue. Only the metformin code is real; the other 23-character
# codes are invented in the same shape (X + ATC fragment + name/form/spec/maker segments).
# Prices are in fen and illustrative.
DRUGS: tuple[DrugData, ...] = (
    DrugData(
        METFORMIN_CODE,
        "盐酸二甲双胍片",
        "Metformin hydrochloride tablets",
        "格华止",
        "片剂",
        "0.5g",
        "0.5g×20片/盒",
        "中美上海施贵宝制药有限公司",
        1580,
        "full",
    ),
    DrugData(
        "XA10AEG128B002020100011",
        "甘精胰岛素注射液",
        "Insulin glargine injection",
        "来得时",
        "注射液",
        "3ml:300单位",
        "3ml×1支/盒（预填充笔）",
        "赛诺菲（北京）制药有限公司",
        7250,
        "partial",
        cold_chain=True,
    ),
    DrugData(
        "XA10ABM047B002020100021",
        "门冬胰岛素注射液",
        "Insulin aspart injection",
        "诺和锐",
        "注射液",
        "3ml:300单位",
        "3ml×1支/盒（笔芯）",
        "诺和诺德（中国）制药有限公司",
        4380,
        "partial",
        cold_chain=True,
    ),
    DrugData(
        "XA10BFA012A001010100031",
        "阿卡波糖片",
        "Acarbose tablets",
        "拜唐苹",
        "片剂",
        "50mg",
        "50mg×30片/盒",
        "拜耳医药保健有限公司",
        2960,
        "partial",
    ),
    DrugData(
        "XA10BBG036A010010100041",
        "格列齐特缓释片",
        "Gliclazide modified-release tablets",
        "达美康",
        "缓释片",
        "30mg",
        "30mg×30片/盒",
        "施维雅（天津）制药有限公司",
        3420,
        "full",
    ),
    DrugData(
        "XA10BHX071A001010100051",
        "磷酸西格列汀片",
        "Sitagliptin phosphate tablets",
        "捷诺维",
        "片剂",
        "100mg",
        "100mg×7片/盒",
        "默沙东制药有限公司",
        2150,
        "partial",
    ),
    DrugData(
        "XC08CAA085A001010100061",
        "苯磺酸氨氯地平片",
        "Amlodipine besylate tablets",
        "络活喜",
        "片剂",
        "5mg",
        "5mg×28片/盒",
        "辉瑞制药有限公司",
        2790,
        "full",
    ),
    DrugData(
        "XC08CAX013A012010100071",
        "硝苯地平控释片",
        "Nifedipine controlled-release tablets",
        "拜新同",
        "控释片",
        "30mg",
        "30mg×7片/盒",
        "拜耳医药保健有限公司",
        3310,
        "partial",
    ),
    DrugData(
        "XC09CAX058E001010100081",
        "缬沙坦胶囊",
        "Valsartan capsules",
        "代文",
        "胶囊剂",
        "80mg",
        "80mg×28粒/盒",
        "北京诺华制药有限公司",
        3680,
        "partial",
    ),
    DrugData(
        "XC09CAL091A001010100091",
        "氯沙坦钾片",
        "Losartan potassium tablets",
        "科素亚",
        "片剂",
        "50mg",
        "50mg×7片/盒",
        "杭州默沙东制药有限公司",
        2640,
        "partial",
    ),
    DrugData(
        "XC07ABM102A001010100101",
        "酒石酸美托洛尔片",
        "Metoprolol tartrate tablets",
        "倍他乐克",
        "片剂",
        "25mg",
        "25mg×20片/盒",
        "阿斯利康制药有限公司",
        580,
        "full",
    ),
    DrugData(
        "XC03AAQ016A001010100111",
        "氢氯噻嗪片",
        "Hydrochlorothiazide tablets",
        "氢氯噻嗪片",
        "片剂",
        "25mg",
        "25mg×100片/瓶",
        "常州制药厂有限公司",
        450,
        "full",
    ),
    # A class-II psychotropic: online care may never prescribe it (rules must refuse it).
    DrugData(
        "XN05CDA024A001010100121",
        "艾司唑仑片",
        "Estazolam tablets",
        "舒乐安定",
        "片剂",
        "1mg",
        "1mg×20片/盒",
        "华中药业股份有限公司",
        320,
        "full",
        controlled=True,
    ),
)

# DEMO DATA: people. Staff sign in with username + DEMO_PASSWORD.
ADMINS_AND_BUREAU: tuple[StaffData, ...] = (
    StaffData("admin", "admin", "平台管理员"),
    StaffData("bureau", "bureau.wang", "王建国（市医保局）"),
    StaffData("bureau", "bureau.li", "李慧芳（市医保局）"),
)

DOCTORS: tuple[DoctorData, ...] = (
    DoctorData("dr.zhang", "张丽华", PILOT_INSTITUTION_CODE, "内分泌科", "主任医师", ("M01600",)),
    DoctorData("dr.liu", "刘志强", PILOT_INSTITUTION_CODE, "内分泌科", "副主任医师", ("M01600",)),
    DoctorData("dr.chen", "陈文博", PILOT_INSTITUTION_CODE, "心血管内科", "主任医师", ("M03900",)),
    DoctorData(
        "dr.zhao",
        "赵永平",
        "H14032100001",
        "全科医学科",
        "主治医师",
        ("M01600", "M03900"),
        max_active_patients=120,
    ),
    # One doctor at each of the other designated institutions, so each can take enrollments.
    DoctorData("dr.gao", "高建华", "H14030200002", "内分泌科", "主任医师", ("M01600",)),
    DoctorData("dr.guo", "郭红梅", "H14030200003", "心血管内科", "副主任医师", ("M03900",)),
    DoctorData("dr.han", "韩志刚", "H14030200004", "内科", "主治医师", ("M03900",)),
    DoctorData("dr.yang", "杨淑芬", "H14030300001", "内分泌科", "主任医师", ("M01600",)),
    DoctorData("dr.xu", "徐国庆", "H14030300002", "心血管内科", "主任医师", ("M03900",)),
    DoctorData("dr.sun", "孙丽萍", "H14030300003", "内科", "主治医师", ("M01600",)),
    DoctorData("dr.hu", "胡振东", "H14030300004", "内科", "主治医师", ("M03900",)),
    DoctorData("dr.zhu", "朱晓燕", "H14031100001", "内分泌科", "副主任医师", ("M01600",)),
    DoctorData("dr.lin", "林永强", "H14031100002", "内科", "主治医师", ("M03900",)),
    DoctorData("dr.he", "何秀英", "H14031100003", "中医内科", "主治医师", ("M01600",)),
    DoctorData("dr.luo", "罗建平", "H14032100002", "中医内科", "主治医师", ("M03900",)),
    DoctorData("dr.liang", "梁海燕", "H14032200001", "内科", "副主任医师", ("M01600",)),
    DoctorData("dr.song", "宋志明", "H14032200002", "中医内科", "主治医师", ("M03900",)),
)

# Every partner store, the mountain counties' included, has a pharmacist to accept and dispense
# its orders and a courier to deliver them.
PHARMACY_STAFF: tuple[PharmacyStaffData, ...] = (
    PharmacyStaffData("pharmacist", "rx.sun", "孙敏", "GKYQ-CQ01"),
    PharmacyStaffData("pharmacist", "rx.zhou", "周静", "GKYQ-PD01"),
    PharmacyStaffData("courier", "courier.wu", "吴强", "GKYQ-CQ01"),
    PharmacyStaffData("courier", "courier.ma", "马俊", "GKYQ-PD01"),
    PharmacyStaffData("pharmacist", "rx.feng", "冯晓丽", "GKYQ-CQ02"),
    PharmacyStaffData("courier", "courier.dong", "董亮", "GKYQ-CQ02"),
    PharmacyStaffData("pharmacist", "rx.cao", "曹文静", "GKYQ-KQ01"),
    PharmacyStaffData("courier", "courier.tian", "田勇", "GKYQ-KQ01"),
    PharmacyStaffData("pharmacist", "rx.peng", "彭雪梅", "GKYQ-JQ01"),
    PharmacyStaffData("courier", "courier.jiang", "蒋伟", "GKYQ-JQ01"),
    PharmacyStaffData("pharmacist", "rx.wei", "魏丽君", "GKYQ-YX01"),
    PharmacyStaffData("courier", "courier.qiao", "乔建军", "GKYQ-YX01"),
)

# Prescription review is hospital-side: a pharmacist of the pilot hospital, never store staff.
HOSPITAL_PHARMACISTS: tuple[HospitalPharmacistData, ...] = (
    HospitalPharmacistData("rx.qian", "钱立新", PILOT_INSTITUTION_CODE),
)

# Patients sign in with WeChat; in dev the fake WeChat's wx.login takes the openid directly.
# National IDs are checksum-valid but fictitious; phones are fictitious.
PATIENTS: tuple[PatientData, ...] = (
    PatientData(
        "demo-openid-patient-1",
        "李桂兰",
        "female",
        date(1956, 3, 12),
        "390",
        "140302",
        "140302195603120021",
        "13903531001",
        "阳泉市城区南大街12号院3号楼2单元401",
        ("M01603",),
        2011,
    ),
    PatientData(
        "demo-openid-patient-2",
        "王海军",
        "male",
        date(1962, 8, 25),
        "310",
        "140303",
        "140303196208250011",
        "13903531002",
        "阳泉市矿区桃北东街7号院1号楼302",
        ("M01603", "M03902"),
        2019,
    ),
    PatientData(
        "demo-openid-patient-3",
        "张玉梅",
        "female",
        date(1958, 11, 2),
        "310",
        "140311",
        "140311195811020048",
        "13903531003",
        "阳泉市郊区义井镇义井村东街16号",
        ("M03902",),
        2024,
    ),
    PatientData(
        "demo-openid-patient-4",
        "郭满仓",
        "male",
        date(1951, 5, 17),
        "390",
        PINGDING,
        "140321195105170033",
        "13903531004",
        "阳泉市平定县娘子关镇下董寨村41号",
        ("M01603", "M03902"),
        2008,
    ),
)

CARE: tuple[CareData, ...] = (
    CareData("demo-openid-patient-1", "dr.zhang"),
    CareData("demo-openid-patient-2", "dr.zhang"),
    CareData("demo-openid-patient-3", "dr.chen"),
    CareData("demo-openid-patient-4", "dr.zhao"),
)

# The patient whose CGM and blood pressure fill two weeks of readings (app/demo/reading.py).
DEMO_WEARER = "demo-openid-patient-2"


# --- E-prescriptions: the online formulary and the stores' starting stock ---
@dataclass(frozen=True)
class FormularyData:
    disease_code: str
    drug_code: str
    therapeutic_class: str  # two drugs of one class at once is duplicate therapy
    dose_unit: str
    units_per_pack: int
    max_daily_quantity: str  # decimal, in dose units
    route: str


# DEMO DATA: dose ceilings follow the usual labels (metformin 2 g/day = 4 x 0.5 g, basal insulin
# kept under 80 U/day); classes are coarse on purpose.
_DIABETES_DRUGS = (
    (METFORMIN_CODE, "biguanide", "片", 20, "4", "口服"),
    ("XA10AEG128B002020100011", "basal_insulin", "单位", 300, "80", "皮下注射"),
    ("XA10ABM047B002020100021", "rapid_insulin", "单位", 300, "60", "皮下注射"),
    ("XA10BFA012A001010100031", "alpha_glucosidase", "片", 30, "6", "口服"),
    ("XA10BBG036A010010100041", "sulfonylurea", "片", 30, "4", "口服"),
    ("XA10BHX071A001010100051", "dpp4", "片", 7, "1", "口服"),
)
_HYPERTENSION_DRUGS = (
    ("XC08CAA085A001010100061", "dhp_ccb", "片", 28, "2", "口服"),
    ("XC08CAX013A012010100071", "dhp_ccb", "片", 7, "2", "口服"),
    ("XC09CAX058E001010100081", "arb", "粒", 28, "4", "口服"),
    ("XC09CAL091A001010100091", "arb", "片", 7, "2", "口服"),
    ("XC07ABM102A001010100101", "beta_blocker", "片", 20, "8", "口服"),
    ("XC03AAQ016A001010100111", "thiazide", "片", 100, "2", "口服"),
)
FORMULARY: tuple[FormularyData, ...] = tuple(
    FormularyData(disease, *drug)
    for disease, drugs in (("M01603", _DIABETES_DRUGS), ("M03902", _HYPERTENSION_DRUGS))
    for drug in drugs
)

# Packs of every formulary drug each demo store holds when first seeded.
STORE_STOCK_PACKS = 200


# --- Insurance benefit rules (docs/domain.md: insurance settlement) ---
@dataclass(frozen=True)
class BenefitRuleData:
    insurance_type: str  # '310' employee, '390' urban-rural resident
    disease_code: str
    institution_level: str  # 'secondary' | 'tertiary'
    year: int
    deductible_fen: int
    reimbursement_bp: int  # fund ratio in basis points
    partial_prepay_bp: int  # category-B drugs: the share paid first by the patient


# DEMO DATA: illustrative 2026 terms for the two online diseases, not the bureau's published
# figures. Employees get higher ratios than residents; secondary hospitals lower deductibles and
# higher ratios than tertiary ones (the usual tiering that steers patients down).
_RULE_TERMS = {
    ("310", "tertiary"): (20_000, 8_500),
    ("310", "secondary"): (10_000, 9_000),
    ("390", "tertiary"): (30_000, 6_500),
    ("390", "secondary"): (20_000, 7_000),
}
# The annual limits are the catalogue's, per disease (app/catalogue/editions/yangquan_2020.json).
_RULE_DISEASES = ("M01603", "M03902")
BENEFIT_RULES: tuple[BenefitRuleData, ...] = tuple(
    BenefitRuleData(insutype, disease, level, 2026, deductible, ratio, 1_000)
    for (insutype, level), (deductible, ratio) in _RULE_TERMS.items()
    for disease in _RULE_DISEASES
)
