"""The Amazon ML calls of one run, queued on a Stubber with exact params."""

import datetime
from io import StringIO

from django.core.management import call_command

from mlpipeline.models import Run

BUCKET = "mlpipeline-tests"
ACCESS_KEY = "AKIADUMMYACCESSKEY01"
SECRET = "dummy-secret-key-that-must-never-be-logged"
ENDPOINT_URL = "https://realtime.machinelearning.us-east-1.amazonaws.com"
#: The parameters a pipeline without ``sgd`` trains with.
PARAMETERS = {
    "sgd.maxMLModelSizeInBytes": "104857600",
    "sgd.maxPasses": "10",
    "sgd.shuffleType": "auto",
    "sgd.l1RegularizationAmount": "0.0",
    "sgd.l2RegularizationAmount": "1e-06",
}
_CREATED = datetime.datetime(2017, 5, 13, 20, 11, 39, tzinfo=datetime.UTC)


def next_run_number():
    """Return the primary key the next Run will get."""
    probe = Run.objects.create(pipeline="probe", backend="none")
    number = probe.pk + 1
    probe.delete()
    return number


def run_learn(*args, **options):
    out, err = StringIO(), StringIO()
    call_command("learn", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


class RunCalls:
    """Queue the calls run ``run`` of ``pipeline`` makes, in order."""

    def __init__(self, ml, pipeline, run, token="tok123"):
        self.ml = ml
        self.pipeline = pipeline
        # Ids hold the run's number and token (conftest fixes the token).
        self.number = run
        self.run = f"{run}-{token}"
        prefix = f"s3://{BUCKET}/uploads/{pipeline}-{run}-{token}-features"
        #: Where each side's features file goes, and their schema.
        self.locations = {
            kind: f"{prefix}-{kind}.csv" for kind in ("train", "evaluation")
        }
        self.schema_location = f"{prefix}.csv.schema"
        self.model_id = f"ml-{pipeline}-{run}-{token}"

    def data_source(
        self, kind, *, schema, statuses=("INPROGRESS", "COMPLETED"), message=""
    ):
        entity = f"ds-{self.pipeline}-{self.run}-{kind}"
        request = {
            "DataSourceId": entity,
            "DataSourceName": f"{self.pipeline} run {self.number} {kind} data",
            # A whole file each: the transform step split the rows.
            "DataSpec": {"DataLocationS3": self.locations[kind], "DataSchema": schema},
            "ComputeStatistics": True,
        }
        self.ml.add_response(
            "create_data_source_from_s3", {"DataSourceId": entity}, request
        )
        self.polls("get_data_source", {"DataSourceId": entity}, statuses, message)

    def model(self, model_type, *, parameters=PARAMETERS, statuses=("COMPLETED",)):
        request = {
            "MLModelId": self.model_id,
            "MLModelName": f"{self.pipeline} run {self.number}",
            "MLModelType": model_type,
            "Parameters": parameters,
            "TrainingDataSourceId": f"ds-{self.pipeline}-{self.run}-train",
        }
        self.ml.add_response("create_ml_model", {"MLModelId": self.model_id}, request)
        no_endpoint = {"EndpointStatus": "NONE", "PeakRequestsPerSecond": 0}
        self.polls(
            "get_ml_model",
            {"MLModelId": self.model_id},
            statuses,
            EndpointInfo=no_endpoint,
        )

    def evaluation(self, metric, value):
        entity = f"ev-{self.pipeline}-{self.run}"
        request = {
            "EvaluationId": entity,
            "EvaluationName": f"{self.pipeline} run {self.number} evaluation",
            "MLModelId": self.model_id,
            "EvaluationDataSourceId": f"ds-{self.pipeline}-{self.run}-evaluation",
        }
        self.ml.add_response("create_evaluation", {"EvaluationId": entity}, request)
        self.ml.add_response(
            "get_evaluation",
            {
                "EvaluationId": entity,
                "Status": "COMPLETED",
                "PerformanceMetrics": {"Properties": {metric: value}},
            },
            {"EvaluationId": entity},
        )

    def endpoint(self, statuses=("UPDATING", "READY")):
        key = {"MLModelId": self.model_id}
        self.ml.add_response(
            "create_realtime_endpoint",
            {
                **key,
                "RealtimeEndpointInfo": {
                    "EndpointStatus": "UPDATING",
                    "PeakRequestsPerSecond": 0,
                },
            },
            key,
        )
        for status in statuses:
            info = {"EndpointStatus": status, "PeakRequestsPerSecond": 0}
            if status == "READY":
                info.update(
                    EndpointUrl=ENDPOINT_URL,
                    PeakRequestsPerSecond=200,
                    CreatedAt=_CREATED,
                )
            self.ml.add_response(
                "get_ml_model",
                {**key, "Status": "COMPLETED", "EndpointInfo": info},
                key,
            )

    def polls(self, method, key, statuses, message="", **extra):
        for status in statuses:
            response = {**key, "Status": status, **extra}
            if status == "FAILED":
                response["Message"] = message
            self.ml.add_response(method, response, key)
