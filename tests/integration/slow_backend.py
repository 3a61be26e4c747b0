"""An embedded backend that dawdles while waiting, to kill a worker mid-run."""

import time

from mlpipeline.backends.embedded import EmbeddedBackend


class SlowEmbeddedBackend(EmbeddedBackend):
    """Sleep SLOW_SECONDS before waiting for an entity of kind SLOW_KIND."""

    def wait(self, kind, entity_id):
        if kind == self.options.get("SLOW_KIND"):
            time.sleep(float(self.options.get("SLOW_SECONDS", 0)))
        return super().wait(kind, entity_id)
