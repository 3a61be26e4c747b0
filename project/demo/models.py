"""Tables of the demo project, filled from public data sets by load_demo_data.

- :class:`Insured`: AER ``HealthInsurance`` (Medical Expenditure Panel
  Survey, 1996), one row per person.
- :class:`Customer`: ISLR ``Caravan`` (CoIL Challenge 2000), one row per
  customer of an insurer, described by 85 codes of their postcode area.
- :class:`HotelBooking`: modeldata ``hotel_rates``, one row per booking of a
  Portuguese resort hotel.
- :class:`Policy`: policy numbers made by :mod:`project.demo.policies`.
"""

from django.db import models

#: Customer main types (Caravan's MOSHOOFD, "L2" in the CoIL data
#: dictionary), by code.
CUSTOMER_MAIN_TYPES = [
    (1, "Successful hedonists"),
    (2, "Driven growers"),
    (3, "Average family"),
    (4, "Career loners"),
    (5, "Living well"),
    (6, "Cruising seniors"),
    (7, "Retired and religious"),
    (8, "Family with grown ups"),
    (9, "Conservative families"),
    (10, "Farmers"),
]

#: Caravan's socio-demographic (M...) and product ownership (P..., A...)
#: columns, all small integer codes. MOSTYPE (the customer subtype, which
#: determines the main type) and MOSHOOFD (the main type) are left out.
CARAVAN_CODES = (
    "MAANTHUI MGEMOMV MGEMLEEF MGODRK MGODPR MGODOV MGODGE MRELGE MRELSA MRELOV "
    "MFALLEEN MFGEKIND MFWEKIND MOPLHOOG MOPLMIDD MOPLLAAG MBERHOOG MBERZELF "
    "MBERBOER MBERMIDD MBERARBG MBERARBO MSKA MSKB1 MSKB2 MSKC MSKD MHHUUR MHKOOP "
    "MAUT1 MAUT2 MAUT0 MZFONDS MZPART MINKM30 MINK3045 MINK4575 MINK7512 MINK123M "
    "MINKGEM MKOOPKLA PWAPART PWABEDR PWALAND PPERSAUT PBESAUT PMOTSCO PVRAAUT "
    "PAANHANG PTRACTOR PWERKT PBROM PLEVEN PPERSONG PGEZONG PWAOREG PBRAND PZEILPL "
    "PPLEZIER PFIETS PINBOED PBYSTAND AWAPART AWABEDR AWALAND APERSAUT ABESAUT "
    "AMOTSCO AVRAAUT AAANHANG ATRACTOR AWERKT ABROM ALEVEN APERSONG AGEZONG "
    "AWAOREG ABRAND AZEILPL APLEZIER AFIETS AINBOED ABYSTAND"
).split()


class Insured(models.Model):
    health = models.BooleanField(help_text="Self-reported health is good or better.")
    age = models.PositiveSmallIntegerField()
    limit = models.BooleanField(help_text="Health limits activity.")
    gender = models.CharField(max_length=10)
    insurance = models.BooleanField(help_text="Has health insurance.")
    married = models.BooleanField()
    selfemp = models.BooleanField(help_text="Self-employed.")
    family = models.PositiveSmallIntegerField(help_text="Size of the family.")
    region = models.CharField(max_length=20)
    ethnicity = models.CharField(max_length=20)
    education = models.CharField(max_length=20)

    def __str__(self):
        return f"insured #{self.pk}"


class Customer(models.Model):
    main_type = models.CharField(
        max_length=40, choices=[(name, name) for _, name in CUSTOMER_MAIN_TYPES]
    )
    purchase = models.BooleanField(help_text="Holds a caravan insurance policy.")

    def __str__(self):
        return f"customer #{self.pk} ({self.main_type})"


for _code in CARAVAN_CODES:
    Customer.add_to_class(_code.lower(), models.PositiveSmallIntegerField())


class HotelBooking(models.Model):
    avg_price_per_room = models.FloatField()
    lead_time = models.PositiveIntegerField()
    stays_in_weekend_nights = models.PositiveSmallIntegerField()
    stays_in_week_nights = models.PositiveSmallIntegerField()
    adults = models.PositiveSmallIntegerField()
    children = models.PositiveSmallIntegerField()
    babies = models.PositiveSmallIntegerField()
    meal = models.CharField(max_length=40)
    country = models.CharField(max_length=3, blank=True)
    market_segment = models.CharField(max_length=40)
    distribution_channel = models.CharField(max_length=20)
    is_repeated_guest = models.BooleanField()
    previous_cancellations = models.PositiveSmallIntegerField()
    previous_bookings_not_canceled = models.PositiveSmallIntegerField()
    reserved_room_type = models.CharField(max_length=2)
    assigned_room_type = models.CharField(max_length=2)
    booking_changes = models.PositiveSmallIntegerField()
    agent = models.CharField(max_length=40)
    company = models.CharField(max_length=40)
    days_in_waiting_list = models.PositiveIntegerField()
    customer_type = models.CharField(max_length=20)
    required_car_parking_spaces = models.PositiveSmallIntegerField()
    total_of_special_requests = models.PositiveSmallIntegerField()
    arrival_date = models.DateField()
    near_christmas = models.BooleanField()
    near_new_years = models.BooleanField()
    historical_adr = models.FloatField(
        help_text="The hotel's average daily rate in the same week a year before."
    )

    def __str__(self):
        return f"booking #{self.pk} ({self.arrival_date})"


class Policy(models.Model):
    number = models.CharField(max_length=24, unique=True)
    plan = models.CharField(max_length=80)

    def __str__(self):
        return self.number
