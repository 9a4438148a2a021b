"""The directory: agencies, their locations and services, as Wagtail pages following HSDS 3.0.

Page content (what an agency publishes) is revisioned and moderated. Facts that change daily or
that the system derives (capacity, verification, geocoded points) live in their own tables, so
that publishing a revision never rolls them back.

The models live in this package's modules; Django's app registry finds them through the names
imported here, and ``from directory.models import X`` works for every model class.
"""

from .agencies import AgencyPage, DirectoryIndexPage
from .documents import ServiceDocument
from .feeds import FeedListing, FeedRun, FeedRunStatus, FeedRunTrigger, HsdsFeed
from .fields import _hsds_id as _hsds_id  # named by the migrations
from .imports import DirectoryImport, DirectoryImportStatus
from .imports import import_upload_to as import_upload_to  # named by the migrations
from .listings import (
    CapacityStatus,
    ListingEditorGroup,
    ListingField,
    ListingSuggestion,
    ListingVerification,
    ServiceCapacity,
    SuggestionStatus,
)
from .locations import (
    GeocodeStatus,
    Location,
    LocationHours,
    LocationPoint,
    LocationType,
    Phone,
    PhoneNumber,
    WeeklyOpening,
)
from .services import (
    CostOption,
    FeeType,
    ReferralMethod,
    RequiredDocument,
    ServiceArea,
    ServiceAtLocation,
    ServiceClosure,
    ServiceHours,
    ServicePage,
    ServicePhone,
    ServiceStatus,
)
from .taxonomy import SdohCategory, TaxonomyTerm

__all__ = [
    "AgencyPage",
    "CapacityStatus",
    "CostOption",
    "DirectoryImport",
    "DirectoryImportStatus",
    "DirectoryIndexPage",
    "FeeType",
    "FeedListing",
    "FeedRun",
    "FeedRunStatus",
    "FeedRunTrigger",
    "GeocodeStatus",
    "HsdsFeed",
    "ListingEditorGroup",
    "ListingField",
    "ListingSuggestion",
    "ListingVerification",
    "Location",
    "LocationHours",
    "LocationPoint",
    "LocationType",
    "Phone",
    "PhoneNumber",
    "ReferralMethod",
    "RequiredDocument",
    "SdohCategory",
    "ServiceArea",
    "ServiceAtLocation",
    "ServiceCapacity",
    "ServiceClosure",
    "ServiceDocument",
    "ServiceHours",
    "ServicePage",
    "ServicePhone",
    "ServiceStatus",
    "SuggestionStatus",
    "TaxonomyTerm",
    "WeeklyOpening",
]
