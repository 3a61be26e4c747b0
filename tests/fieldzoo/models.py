"""A model of every Django field type, for the tests of what mlpipeline reads.

Installed by ``tests/settings.py`` only. :class:`Specimen` holds one field of
each concrete type a project's model may have; the tests declare pipelines
over it and check that each type is either written to the features file as
it is (a round trip) or refused by a system check naming the field.
"""

import uuid

from django.db import models

BINARY_CHOICES = [("yes", "Yes"), ("no", "No")]
SIZE_CHOICES = [("s", "Small"), ("m", "Medium"), ("l", "Large")]
LEVEL_CHOICES = [(1, "Low"), (2, "Middle"), (3, "High")]


class Keeper(models.Model):
    name = models.CharField(max_length=40)

    def __str__(self):
        return self.name


class Tag(models.Model):
    label = models.CharField(max_length=40)

    def __str__(self):
        return self.label


class Specimen(models.Model):
    # Text
    char = models.CharField(max_length=400, blank=True)
    # A string column may hold NULL as well as "" (both are missing).
    char_null = models.CharField(max_length=400, null=True)  # noqa: DJ001
    text = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    slug = models.SlugField(blank=True)
    url = models.URLField(blank=True)
    ip = models.GenericIPAddressField(null=True)
    # Numbers
    integer = models.IntegerField(null=True)
    big = models.BigIntegerField(null=True)
    small = models.SmallIntegerField(null=True)
    positive = models.PositiveIntegerField(null=True)
    positive_small = models.PositiveSmallIntegerField(null=True)
    positive_big = models.PositiveBigIntegerField(null=True)
    floating = models.FloatField(null=True)
    decimal = models.DecimalField(max_digits=14, decimal_places=4, null=True)
    # Truth values and choices
    flag = models.BooleanField(default=False)
    maybe = models.BooleanField(null=True)
    answer = models.CharField(max_length=3, choices=BINARY_CHOICES, blank=True)
    size = models.CharField(max_length=1, choices=SIZE_CHOICES, blank=True)
    level = models.IntegerField(choices=LEVEL_CHOICES, null=True)
    # Time
    day = models.DateField(null=True)
    moment = models.DateTimeField(null=True)
    clock = models.TimeField(null=True)
    duration = models.DurationField(null=True)
    # Identifiers and relations
    uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    code = models.UUIDField(null=True)
    keeper = models.ForeignKey(Keeper, null=True, on_delete=models.SET_NULL)
    profile = models.OneToOneField(
        Keeper, null=True, on_delete=models.SET_NULL, related_name="profile_of"
    )
    # Not one value per row, or not a value at all
    data = models.JSONField(null=True)
    blob = models.BinaryField(null=True)
    attachment = models.FileField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True)
    # The targets of the tests' pipelines
    kind = models.CharField(max_length=10, default="a")
    score = models.FloatField(default=0.0)

    def __str__(self):
        return f"specimen #{self.pk}"
