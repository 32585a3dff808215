"""Prescriptions as the API shows them, with the signature block an outside verifier needs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import city_date
from app.kit.repository import by_id
from app.models import DoctorSigningKey, FormularyItem, Prescription, PrescriptionItem
from app.prescription import repository as rx_repository
from app.prescription.schemas import (
    FormularyItemOut,
    PrescriptionItemOut,
    PrescriptionOut,
    SignatureOut,
    SigningKeyOut,
    SigningPayloadOut,
    TransitionOut,
)
from app.prescription.service import is_expired, valid_until
from app.prescription.signing import Payload, fingerprint


async def present(
    session: AsyncSession,
    prescription: Prescription,
    items: Sequence[PrescriptionItem],
    *,
    with_history: bool = True,
) -> PrescriptionOut:
    """The prescription with its lines, signature and (optionally) its history."""
    drugs = await rx_repository.drugs_by_id(session, [item.drug_id for item in items])
    signature = None
    if prescription.signing_key_id is not None and prescription.signed_content is not None:
        key = await by_id(session, DoctorSigningKey, prescription.signing_key_id)
        assert key is not None and prescription.signature is not None
        assert prescription.signed_at is not None
        signature = SignatureOut(
            algorithm=key.algorithm,
            key_id=key.id,
            public_key=key.public_key,
            key_fingerprint=fingerprint(key.public_key),
            key_status=key.status,
            key_origin=key.origin,
            key_activated_at=key.activated_at,
            key_retired_at=key.retired_at,
            key_revoked_at=key.revoked_at,
            signed_content=prescription.signed_content,
            signature=prescription.signature,
            signed_at=prescription.signed_at,
        )
    history = await rx_repository.history(session, prescription.id) if with_history else []
    return PrescriptionOut(
        id=prescription.id,
        status=prescription.status,
        patient_id=prescription.patient_id,
        doctor_id=prescription.doctor_id,
        institution_id=prescription.institution_id,
        disease_id=prescription.disease_id,
        entitlement_id=prescription.entitlement_id,
        consultation_id=prescription.consultation_id,
        renewal_of_id=prescription.renewal_of_id,
        diagnosis_zh=prescription.diagnosis_zh,
        is_long=prescription.is_long,
        written_on=prescription.written_on,
        valid_days=prescription.valid_days,
        valid_until=valid_until(prescription),
        expired=is_expired(prescription, city_date()),
        days_supply=prescription.days_supply,
        total_fen=prescription.total_fen,
        review_reason=prescription.review_reason,
        revoke_reason=prescription.revoke_reason,
        items=[
            PrescriptionItemOut(
                id=item.id,
                line_no=item.line_no,
                drug_id=item.drug_id,
                drug_name_zh=drugs[item.drug_id].generic_name_zh,
                dose_quantity=item.dose_quantity,
                dose_unit=item.dose_unit,
                frequency=item.frequency,
                route=item.route,
                days_supply=item.days_supply,
                packs=item.packs,
                unit_price_fen=item.unit_price_fen,
                amount_fen=item.amount_fen,
                cold_chain=drugs[item.drug_id].cold_chain,
            )
            for item in items
        ],
        signature=signature,
        history=[TransitionOut.model_validate(row) for row in history],
    )


async def present_formulary(
    session: AsyncSession, rows: Sequence[FormularyItem]
) -> list[FormularyItemOut]:
    """Formulary rows with the drug facts a prescriber needs."""
    drugs = await rx_repository.drugs_by_id(session, [row.drug_id for row in rows])
    return [
        FormularyItemOut(
            disease_id=row.disease_id,
            drug_id=row.drug_id,
            therapeutic_class=row.therapeutic_class,
            dose_unit=row.dose_unit,
            units_per_pack=row.units_per_pack,
            max_daily_quantity=row.max_daily_quantity,
            default_route=row.default_route,
            national_code=drugs[row.drug_id].national_code,
            generic_name_zh=drugs[row.drug_id].generic_name_zh,
            product_name_zh=drugs[row.drug_id].product_name_zh,
            strength=drugs[row.drug_id].strength,
            pack=drugs[row.drug_id].pack,
            price_fen=drugs[row.drug_id].price_fen,
            insurance_class=drugs[row.drug_id].insurance_class,
            cold_chain=drugs[row.drug_id].cold_chain,
        )
        for row in rows
    ]


def present_key(key: DoctorSigningKey) -> SigningKeyOut:
    """A signing key as its doctor and the admins see it (public half and history only)."""
    return SigningKeyOut(
        id=key.id,
        doctor_id=key.doctor_id,
        algorithm=key.algorithm,
        public_key=key.public_key,
        fingerprint=fingerprint(key.public_key),
        status=key.status,
        origin=key.origin,
        device_label=key.device_label,
        registered_at=key.created_at,
        registered_by_account_id=key.registered_by_account_id,
        activated_at=key.activated_at,
        activated_by_account_id=key.activated_by_account_id,
        retired_at=key.retired_at,
        revoked_at=key.revoked_at,
        revoked_by_account_id=key.revoked_by_account_id,
        revoke_reason=key.revoke_reason,
    )


def present_payload(prescription: Prescription, payload: Payload) -> SigningPayloadOut:
    """What the doctor's device is asked to sign."""
    return SigningPayloadOut(
        prescription_id=prescription.id,
        key_id=payload.key.id,
        algorithm="Ed25519",
        key_fingerprint=fingerprint(payload.key.public_key),
        signed_at=payload.signed_at,
        expires_at=payload.expires_at,
        signed_content=payload.content.decode(),
    )
