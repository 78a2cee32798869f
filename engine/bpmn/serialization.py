"""Instance state as JSON *without* the process spec.

SpiffWorkflow's serializer embeds the whole spec in every instance (most of the bytes). Signpost stores
the spec once per deployed version and each instance's state alone; loading re-attaches the cached spec
objects instead of rebuilding them from JSON every time.
"""

from __future__ import annotations

import base64
import json
import threading
import zlib
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask, SequentialMultiInstanceTask

from engine.bpmn.camunda import (
    CamundaParallelMultiInstanceTask,
    CamundaSequentialMultiInstanceTask,
    PassThroughTask,
    SignpostBusinessRuleTaskConverter,
)
from engine.bpmn.external import SERIALIZER_CONFIG as EXTERNAL_TASKS_CONFIG
from engine.errors import SignpostError

# SpiffWorkflow's Spiff-extension converters, plus Signpost's abstract tasks and required decisions.
SIGNPOST_CONFIG = {
    **SPIFF_CONFIG,
    PassThroughTask: SpiffBpmnTaskConverter,
    BusinessRuleTask: SignpostBusinessRuleTaskConverter,
    CamundaParallelMultiInstanceTask: SPIFF_CONFIG[SequentialMultiInstanceTask],
    CamundaSequentialMultiInstanceTask: SPIFF_CONFIG[SequentialMultiInstanceTask],
    **EXTERNAL_TASKS_CONFIG,
}

# Stored with every instance: a state written by another serializer format is refused, not misread.
# Plain JSON: how instances were stored before compression (still read), and how specs are stored.
STATE_FORMAT = f"spiff-{SPIFF_SERIALIZER_VERSION}/specless-1"
# The same JSON compressed with zlib, in base64 (a text column holds it): how instances are stored now.
# SpiffWorkflow copies the data into every task, so the JSON repeats itself: the community nursing pathway
# stores about 2.4 KB instead of 9.6 KB at its longest, for about 0.07 ms of compression per save.
# (20 characters: what the serializer_version column holds.)
COMPRESSED_STATE_FORMAT = f"spiff-{SPIFF_SERIALIZER_VERSION}/specless-z"
READABLE_STATE_FORMATS = (COMPRESSED_STATE_FORMAT, STATE_FORMAT)
_COMPRESSION_LEVEL = 6  # level 9 saves a few bytes more at no gain; level 1 about 7% more bytes


def pack_state(text: str) -> str:
    """State JSON as ``COMPRESSED_STATE_FORMAT`` stores it."""
    return base64.b64encode(zlib.compress(text.encode(), _COMPRESSION_LEVEL)).decode("ascii")


def state_json(stored: str, state_format: str) -> str:
    """The JSON of a stored state, in either readable format."""
    if state_format == COMPRESSED_STATE_FORMAT:
        return zlib.decompress(base64.b64decode(stored)).decode()
    if state_format == STATE_FORMAT:
        return stored
    raise SignpostError(
        f"instance state is in format {state_format!r}; this engine reads {', '.join(READABLE_STATE_FORMATS)}"
    )


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Writes a top-level workflow without its specs; restores it onto specs handed in by the caller."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        if spec is None:
            raise SignpostError("a stored instance state can only be loaded onto its version's spec")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def new_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's serializer with its Spiff-extension converters (used for specs)."""
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SIGNPOST_CONFIG))


class StateCodec:
    """Dumps and loads instance state; one per process, safe to share between threads."""

    def __init__(self):
        config = dict(SIGNPOST_CONFIG)
        config[BpmnWorkflow] = SpeclessWorkflowConverter
        self._registry = BpmnWorkflowSerializer.configure(config)
        self._encoder = create_encoder(self._registry)
        # The registry's encoder mode is a flag on a shared object: concurrent dumps must not interleave.
        self._dump_lock = threading.Lock()

    def dump(self, workflow: BpmnWorkflow) -> str:
        """The state as ``COMPRESSED_STATE_FORMAT`` stores it."""
        return pack_state(self.dump_json(workflow))

    def dump_json(self, workflow: BpmnWorkflow) -> str:
        # Encoder mode converts only Spiff's own objects here and leaves nested data to the JSON encoder,
        # as SpiffWorkflow's serialize_json does; it is far cheaper than a full recursive conversion.
        state = self._registry.convert_to_dict[self._registry.typenames[BpmnWorkflow]]
        with self._dump_lock:
            self._registry._encoder_mode = True
            try:
                return json.dumps(state(workflow), cls=self._encoder, separators=(",", ":"))
            finally:
                self._registry._encoder_mode = False

    def dump_value(self, value) -> str:
        """One value of task data as the state would hold it (raises as ``dump`` would on it)."""
        with self._dump_lock:
            self._registry._encoder_mode = True
            try:
                return json.dumps(value, cls=self._encoder)
            finally:
                self._registry._encoder_mode = False

    def load(self, stored: str, state_format: str, spec, subprocess_specs) -> BpmnWorkflow:
        state = json.loads(state_json(stored, state_format))
        return self._registry.restore(state, spec=spec, subprocess_specs=subprocess_specs)
