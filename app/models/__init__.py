"""Every ORM table, re-exported so Alembic's autogenerate sees them all."""

from app.models.account import STAFF_ROLES, Account, Role
from app.models.alert import Alert
from app.models.assignment import AssignmentDecision, ConsultationRequest
from app.models.audit_event import AuditEvent
from app.models.auth_session import AuthSession
from app.models.base import Base
from app.models.bp_sleep_period import BpSleepPeriod
from app.models.care_relationship import CareRelationship
from app.models.care_team import CareTeam, CareTeamMember, CareTeamPatient
from app.models.catalogue import CatalogueEdition, CatalogueEntry, CatalogueLimit
from app.models.cgm_daily import CgmDaily
from app.models.chat_attachment import ChatAttachment
from app.models.chat_conversation import ChatConversation
from app.models.chat_message import ChatMessage
from app.models.chat_participant import ChatParticipant
from app.models.chronic_disease import ChronicDisease
from app.models.delivery import (
    ColdChainReading,
    DeliveryLocation,
    DispensedBox,
    OrderTransition,
    TraceabilityEvent,
)
from app.models.device import Device
from app.models.device_registration import DevicePairingFailure, DeviceRegistration
from app.models.disease_category import DiseaseCategory
from app.models.district import District
from app.models.doctor import Doctor
from app.models.doctor_schedule import DoctorLoad, DoctorPresence, DoctorWorkingHours
from app.models.drug import Drug
from app.models.ecg_strip import EcgStrip
from app.models.enrollment import (
    EnrollmentApplication,
    EnrollmentRecord,
    EnrollmentReviewer,
    Entitlement,
)
from app.models.follow_up import FollowUp, FollowUpPlan
from app.models.idempotency_key import IdempotencyKey
from app.models.institution import Institution
from app.models.insurance_benefit_rule import BenefitRule
from app.models.insurance_ledger import LedgerCorrection, LedgerEntry
from app.models.insurance_platform import PlatformMessage, PlatformSettlement, PlatformSignIn
from app.models.insurance_quota import InsuranceQuota, InsuranceQuotaDisease
from app.models.insurance_settlement import (
    FlagReview,
    Presettlement,
    Settlement,
    SettlementFlag,
    SettlementItem,
)
from app.models.insurance_statement import (
    Statement,
    StatementCarry,
    StatementLine,
    StatementRelease,
)
from app.models.insured_identity import (
    EntitlementIdentity,
    IdentityDeclaration,
    InsuredIdentity,
)
from app.models.nightscout_credential import NightscoutCredential
from app.models.outbox_message import OutboxMessage
from app.models.patient import Patient
from app.models.payment import Payment, PaymentRefund
from app.models.pharmacy_order import (
    PartnerCallback,
    PharmacyOrder,
    PharmacyOrderLine,
    PharmacyStock,
    StoreIntegration,
)
from app.models.pharmacy_staff import PharmacyStaff
from app.models.pharmacy_store import PharmacyChain, PharmacyStore, PharmacyStoreCoverage
from app.models.prescription import (
    DoctorSigningKey,
    FormularyItem,
    Prescription,
    PrescriptionItem,
    PrescriptionReviewer,
    PrescriptionTransition,
)
from app.models.push_consent import PushConsent
from app.models.push_delivery import PushChannel, PushDelivery, PushDeliveryStatus
from app.models.push_grant import PushGrant
from app.models.quality_return import QualityReturn, QualityReturnTransition
from app.models.reading import Reading
from app.models.reading_latest import ReadingLatest
from app.models.referral import Referral
from app.models.refresh_token import RefreshToken
from app.models.sensor_session import SensorSession
from app.models.sign_in_failure import SignInFailure

__all__ = [
    "STAFF_ROLES",
    "Account",
    "Alert",
    "AssignmentDecision",
    "AuditEvent",
    "AuthSession",
    "Base",
    "BenefitRule",
    "BpSleepPeriod",
    "CareRelationship",
    "CareTeam",
    "CareTeamMember",
    "CareTeamPatient",
    "CatalogueEdition",
    "CatalogueEntry",
    "CatalogueLimit",
    "CgmDaily",
    "ChatAttachment",
    "ChatConversation",
    "ChatMessage",
    "ChatParticipant",
    "ChronicDisease",
    "ColdChainReading",
    "ConsultationRequest",
    "DeliveryLocation",
    "Device",
    "DevicePairingFailure",
    "DeviceRegistration",
    "DiseaseCategory",
    "DispensedBox",
    "District",
    "Doctor",
    "DoctorLoad",
    "DoctorPresence",
    "DoctorSigningKey",
    "DoctorWorkingHours",
    "Drug",
    "EcgStrip",
    "EnrollmentApplication",
    "EnrollmentRecord",
    "EnrollmentReviewer",
    "Entitlement",
    "EntitlementIdentity",
    "FlagReview",
    "FollowUp",
    "FollowUpPlan",
    "FormularyItem",
    "IdempotencyKey",
    "IdentityDeclaration",
    "Institution",
    "InsuranceQuota",
    "InsuranceQuotaDisease",
    "InsuredIdentity",
    "LedgerCorrection",
    "LedgerEntry",
    "NightscoutCredential",
    "OrderTransition",
    "OutboxMessage",
    "PartnerCallback",
    "Patient",
    "Payment",
    "PaymentRefund",
    "PharmacyChain",
    "PharmacyOrder",
    "PharmacyOrderLine",
    "PharmacyStaff",
    "PharmacyStock",
    "PharmacyStore",
    "PharmacyStoreCoverage",
    "PlatformMessage",
    "PlatformSettlement",
    "PlatformSignIn",
    "Prescription",
    "PrescriptionItem",
    "PrescriptionReviewer",
    "PrescriptionTransition",
    "Presettlement",
    "PushChannel",
    "PushConsent",
    "PushDelivery",
    "PushDeliveryStatus",
    "PushGrant",
    "QualityReturn",
    "QualityReturnTransition",
    "Reading",
    "ReadingLatest",
    "Referral",
    "RefreshToken",
    "Role",
    "SensorSession",
    "Settlement",
    "SettlementFlag",
    "SettlementItem",
    "SignInFailure",
    "Statement",
    "StatementCarry",
    "StatementLine",
    "StatementRelease",
    "StoreIntegration",
    "TraceabilityEvent",
]
