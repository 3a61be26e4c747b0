"""Batch predictions: a data source in, a CSV of predictions out (spec §14.4).

CreateBatchPrediction scores every record a data source selects with a
model and writes, below ``OutputUri`` (a folder of the store)::

    <OutputUri>/batch-prediction/<id>.manifest              JSON map
    <OutputUri>/batch-prediction/result/<id>-<file>.gz      gzip CSV

The manifest maps the input file to its result file. The result has a
header, then one line per selected record in file order:

* BINARY: ``bestAnswer,score``: 1 when the score reaches the model's
  ``ScoreThreshold`` at the time of the batch (0.5 unless set), else 0;
  the score is the probability of 1;
* MULTICLASS: one column per training class, named after it, holding its
  probability;
* REGRESSION: ``score``, the predicted value.

When the data source's schema names a ``rowId``, its value comes first, in
a column named ``tag``. A record that cannot be read (wrong number of
fields, longer than 100 KB, bad UTF-8 or quoting) gets an empty line and
counts in ``InvalidRecordCount``; ``TotalRecordCount`` counts every
selected record. As with training, more than 10,000 invalid records fail
the batch prediction.

[ENGINE] choices where AWS is silent:

* ``OutputUri`` names a folder of the engine's store (``predictions/``),
  not an ``s3://`` URL; like an S3 key it may not contain ``:``, ``//``,
  ``/./`` or ``/../``.
* Scores are written in scientific notation with an upper-case ``E`` and
  no exponent padding, as in the Developer Guide's ``8.7642E-3``:
  probabilities with 5 significant digits, REGRESSION values with 7 (the
  precision of the 32-bit floats Amazon ML returns); trailing zeros are
  dropped (``5.0E-1``).
* Lines end with ``\\n``; cells are quoted as CSV requires (a class name
  holding a comma is quoted in the header).
* Attributes are read with the training schema's types and matched by
  name; attributes the data source lacks are missing. A data source that
  shares no input attribute with the model's training schema is refused.
* The gzip header holds no file name and a zero time stamp, so the same
  model and data give byte-identical output.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

from mlpipeline.engine.csvio import ReadReport, read_records
from mlpipeline.engine.entities import (
    check_entity_name,
    check_id,
    check_store_name,
)
from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.jobs import open_data
from mlpipeline.engine.predictor import DEFAULT_THRESHOLD, Predictor
from mlpipeline.engine.repository import api_view
from mlpipeline.engine.schema import Schema, parse_schema
from mlpipeline.engine.split import Rearrangement, parse_rearrangement
from mlpipeline.engine.store import Store
from mlpipeline.engine.tags import TagOperations
from mlpipeline.engine.values import build_table

__all__ = [
    "BatchPredictionOperations",
    "format_score",
    "header",
    "output_names",
    "write_batch_prediction",
]

MAX_URI_CHARS = 2048
PROBABILITY_DIGITS = 5
VALUE_DIGITS = 7
_FORBIDDEN = (":", "//", "/./", "/../")


def format_score(value: float, digits: int = PROBABILITY_DIGITS) -> str:
    """Return ``value`` in scientific notation, as batch outputs write it.

    Examples
    --------
    >>> format_score(0.0087642)
    '8.7642E-3'
    >>> format_score(0.5)
    '5.0E-1'
    """
    mantissa, exponent = f"{value:.{digits - 1}E}".split("E")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0")
        if mantissa.endswith("."):
            mantissa += "0"
    return f"{mantissa}E{int(exponent)}"


def header(predictor: Predictor, tagged: bool) -> list[str]:
    """Return the result file's column names for a model."""
    if predictor.model_type == "BINARY":
        columns = ["bestAnswer", "score"]
    elif predictor.model_type == "MULTICLASS":
        columns = list(predictor.classes)
    else:
        columns = ["score"]
    return ["tag", *columns] if tagged else columns


def _answers(predictor: Predictor, scores: Any, threshold: float) -> list[list[str]]:
    """Return the result cells of each scored record."""
    if predictor.model_type == "BINARY":
        labels = predictor.labels(scores, threshold)
        return [
            [label, format_score(score)]
            for label, score in zip(labels, scores.tolist(), strict=True)
        ]
    if predictor.model_type == "MULTICLASS":
        return [[format_score(p) for p in row] for row in scores.tolist()]
    return [[format_score(value, VALUE_DIGITS)] for value in scores.tolist()]


def check_output_uri(value: Any) -> str:
    """Return ``OutputUri`` as a store folder name, without a final slash.

    Raises
    ------
    InvalidInputException
        If it is not a usable store folder.
    """
    if not isinstance(value, str) or len(value) > MAX_URI_CHARS:
        raise InvalidInputException(
            f"OutputUri must be a string of at most {MAX_URI_CHARS} characters, "
            f"got {value!r}."
        )
    if not value.startswith("s3://"):
        for bad in _FORBIDDEN:
            if bad in value:
                raise InvalidInputException(
                    f"OutputUri {value!r} may not contain {bad!r}."
                )
    folder = value[:-1] if value.endswith("/") else value
    return check_store_name(folder, "OutputUri")


def output_names(folder: str, batch_id: str, location: str) -> tuple[str, str]:
    """Return the store names of the manifest and of the result file."""
    base = f"{folder}/batch-prediction"
    file_name = location.rsplit("/", 1)[-1]
    return f"{base}/{batch_id}.manifest", f"{base}/result/{batch_id}-{file_name}.gz"


def write_batch_prediction(
    store: Store,
    predictor: Predictor,
    location: str,
    schema: Schema,
    rearrangement: Rearrangement,
    threshold: float,
    result_name: str,
) -> ReadReport:
    """Score the selected records of a data file; write the gzip CSV result.

    Parameters
    ----------
    store : Store
        Holds the data file and receives the result.
    predictor : Predictor
        The model.
    location : str
        The data file.
    schema, rearrangement
        The batch data source's schema and record selection.
    threshold : float
        BINARY cut-off for ``bestAnswer``.
    result_name : str
        Store name of the result file.

    Returns
    -------
    ReadReport
        The record counts: ``selected`` records, ``invalid`` among them.

    Raises
    ------
    JobFailedError
        If the file is missing or more than 10,000 records are invalid.
    """
    types = predictor.space.attributes
    positions = {name: i for i, name in enumerate(schema.names)}
    tag = positions.get(schema.row_id) if schema.row_id else None
    report = ReadReport()
    batches = read_records(
        open_data(store, location), schema, rearrangement, report, keep_invalid=True
    )
    # TODO: Store.write takes a whole blob, so the compressed result is held
    # in memory (a few bytes per record); a streaming write in the Store
    # protocol would bound it.
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as packed:
        text = io.TextIOWrapper(packed, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header(predictor, tag is not None))
        for rows in batches:
            valid = [row for row in rows if row is not None]
            table = build_table(valid, positions, types)
            answers = iter(_answers(predictor, predictor.scores(table), threshold))
            for row in rows:
                if row is None:
                    writer.writerow([])
                elif tag is None:
                    writer.writerow(next(answers))
                else:
                    writer.writerow([row[tag], *next(answers)])
        text.flush()
        text.detach()
    store.write(result_name, buffer.getvalue())
    return report


class BatchPredictionOperations(TagOperations):
    """CreateBatchPrediction, GetBatchPrediction, Update and Delete."""

    def load_model(self, model_id: str) -> Predictor:
        """Return the predictor of a COMPLETED model (the engine's)."""
        raise NotImplementedError

    def create_batch_prediction(
        self,
        *,
        BatchPredictionId: str,
        MLModelId: str,
        BatchPredictionDataSourceId: str,
        OutputUri: str,
        BatchPredictionName: str | None = None,
    ) -> dict[str, str]:
        """Create a batch prediction and write its output (see module doc).

        Returns
        -------
        dict
            ``{"BatchPredictionId": ...}``.

        Raises
        ------
        InvalidInputException
            On bad ids, name or OutputUri; a model or data source that is
            missing, FAILED or DELETED; a data source sharing no input
            attribute with the model.
        IdempotentParameterMismatchException
            If the id exists with other parameters.
        """
        entity_id = check_id(BatchPredictionId, "BatchPredictionId")
        name = check_entity_name(BatchPredictionName, "BatchPredictionName")
        folder = check_output_uri(OutputUri)
        model = self._dependency("mlmodel", MLModelId, "MLModelId")
        source = self._dependency(
            "datasource", BatchPredictionDataSourceId, "BatchPredictionDataSourceId"
        )
        schema = parse_schema(source["schema"])
        inputs = [a.name for a in parse_schema(model["schema"]).inputs]
        if not set(inputs) & set(schema.names):
            raise InvalidInputException(
                f"DataSource {BatchPredictionDataSourceId!r} has none of the input "
                f"attributes of MLModel {MLModelId!r} ({', '.join(inputs)})."
            )
        request = {
            "BatchPredictionName": name,
            "MLModelId": MLModelId,
            "BatchPredictionDataSourceId": BatchPredictionDataSourceId,
            "OutputUri": OutputUri,
        }
        if self._replayed("batchprediction", entity_id, request):
            return {"BatchPredictionId": entity_id}

        location = source["api"]["DataLocationS3"]
        api: dict[str, Any] = {
            "BatchPredictionId": entity_id,
            "MLModelId": MLModelId,
            "BatchPredictionDataSourceId": BatchPredictionDataSourceId,
            "InputDataLocationS3": location,
            "OutputUri": OutputUri,
        }
        if name is not None:
            api["Name"] = name
        document = {"api": api, "request": request}
        manifest, result = output_names(folder, entity_id, location)

        def work(doc: dict[str, Any]) -> None:
            ready_model = self._await("mlmodel", MLModelId)
            ready_source = self._await("datasource", BatchPredictionDataSourceId)
            threshold = ready_model["api"].get("ScoreThreshold", DEFAULT_THRESHOLD)
            report = write_batch_prediction(
                self.store,
                self.load_model(MLModelId),
                location,
                schema,
                parse_rearrangement(ready_source["api"].get("DataRearrangement")),
                threshold,
                result,
            )
            self.store.write(manifest, json.dumps({location: result}).encode())
            doc["api"].update(
                TotalRecordCount=report.selected, InvalidRecordCount=report.invalid
            )

        self._copy_tags(
            "batchprediction",
            entity_id,
            [("datasource", BatchPredictionDataSourceId), ("mlmodel", MLModelId)],
        )
        self._create("batchprediction", entity_id, document, work)
        return {"BatchPredictionId": entity_id}

    def get_batch_prediction(self, *, BatchPredictionId: str) -> dict[str, Any]:
        """Return a batch prediction as GetBatchPrediction does.

        Raises
        ------
        ResourceNotFoundException
            If no batch prediction has this id.
        """
        kind = "batchprediction"
        return api_view(self._get(kind, BatchPredictionId, "BatchPredictionId")["api"])

    def update_batch_prediction(
        self, *, BatchPredictionId: str, BatchPredictionName: str
    ) -> dict[str, str]:
        """Rename a batch prediction."""
        self._rename(
            "batchprediction",
            BatchPredictionId,
            "BatchPredictionId",
            BatchPredictionName,
            "BatchPredictionName",
        )
        return {"BatchPredictionId": BatchPredictionId}

    def delete_batch_prediction(self, *, BatchPredictionId: str) -> dict[str, str]:
        """Mark a batch prediction DELETED; its output files stay."""
        self._delete("batchprediction", BatchPredictionId, "BatchPredictionId")
        return {"BatchPredictionId": BatchPredictionId}
