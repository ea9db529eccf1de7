"""Sample recipients and facts: fixed, plainly fake data for checking and previewing letters
when no case is at hand (never a real breach, never a real person).

The template check renders every variant for these recipients, and approvers' PDF
previews show them; tests and benchmarks use the facts as a stand-in case.
"""

from __future__ import annotations

from datetime import date

from activities.notify.letters import Recipient
from models.mailing import LetterVariant
from models.notification import Contact, LetterFacts, LetterItem, LetterText

SAMPLE_RECIPIENTS: dict[LetterVariant, Recipient] = {
    LetterVariant.adult: Recipient(LetterVariant.adult, "Alex", "Sample", ("Alex Sample", "100 Sample Street", "Apt 1", "Anytown MD 21244"), "SAMPLE-ADULT-0001"),
    LetterVariant.guardian: Recipient(LetterVariant.guardian, "Jamie", "Sample", ("Pat Sample", "Parent or guardian of Jamie", "200 Sample Street", "Anytown MD 21244"), "SAMPLE-GUARDIAN-0002"),
    LetterVariant.estate: Recipient(LetterVariant.estate, "Chris", "Sample", ("To the estate or next of kin of Chris Sample", "300 Sample Street", "Anytown MD 21244"), "SAMPLE-ESTATE-0003"),
}


def sample_facts() -> LetterFacts:
    """Plausible facts for checking templates when no case is at hand (never a real breach)."""
    return LetterFacts(
        breach_from=date(2026, 3, 2),
        breach_to=date(2026, 3, 9),
        discovered_on=date(2026, 3, 12),
        notifying_official="Jordan Example",
        notifying_official_title="Administrator",
        what_happened="A laptop holding a claims extract was stolen from a contractor's car.",
        pii_types=["Full name", "Social Security number", "Date of birth", "Medicare number"],
        protection="The laptop's disk was not encrypted.",
        guidance=[
            LetterItem(title="Place a fraud alert", text="Call one of the three national credit bureaus; it tells the other two."),
            LetterItem(title="Get your free credit reports", text="Visit annualcreditreport.com and look for accounts you do not recognize."),
        ],
        countermeasures=[LetterItem(title="Change-of-address watch", text="We will confirm any request to change your address with you by mail.")],
        services=[LetterItem(title="Credit monitoring", text="Two years at no cost; enroll with the code in this letter by June 30, 2026.")],
        mitigation_steps=["reported the theft to law enforcement", "required full-disk encryption on every contractor laptop"],
        follow_up_reason="We have learned that bank account numbers were also on the laptop.",
        contact=Contact(
            toll_free="1-800-555-0100",
            tty="1-800-555-0101",
            hours="Monday to Friday, 8 a.m. to 8 p.m. Eastern time",
            email="privacy-incident@example.gov",
            postal_address=["Privacy Office, Mail Stop S1-00-00", "7500 Security Boulevard", "Baltimore, MD 21244"],
            web_page="https://www.example.gov/breach",
        ),
        translations={
            "es": LetterText(
                agency="Centros de Servicios de Medicare y Medicaid",
                hours="de lunes a viernes, de 8 a. m. a 8 p. m., hora del Este",
                notifying_official_title="Administrador",
                what_happened="Robaron del automóvil de un contratista una computadora portátil con un extracto de reclamaciones.",
                pii_types=["Nombre completo", "Número de Seguro Social", "Fecha de nacimiento", "Número de Medicare"],
                protection="El disco de la computadora portátil no estaba cifrado.",
                guidance=[
                    LetterItem(title="Coloque una alerta de fraude", text="Llame a una de las tres agencias nacionales de crédito; ella avisa a las otras dos."),
                    LetterItem(title="Obtenga sus informes de crédito gratuitos", text="Visite annualcreditreport.com y busque cuentas que no reconozca."),
                ],
                countermeasures=[LetterItem(title="Vigilancia de cambios de dirección", text="Confirmaremos con usted por correo cualquier solicitud de cambio de dirección.")],
                services=[LetterItem(title="Monitoreo de crédito", text="Dos años sin costo; inscríbase con el código de esta carta antes del 30 de junio de 2026.")],
                mitigation_steps=["denunciamos el robo a las autoridades", "exigimos el cifrado completo del disco en todas las computadoras portátiles de los contratistas"],
                follow_up_reason="Supimos que en la computadora portátil también había números de cuentas bancarias.",
            )
        },
    )
