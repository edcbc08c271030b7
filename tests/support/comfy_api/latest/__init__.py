"""A stand-in for ComfyUI's `comfy_api.latest` (which is not on PyPI), for CI only.

It reproduces the declarative surface the node pack uses, with the real API's signatures (read off
ComfyUI 0.3.64, comfy_api/latest/_io.py), so schema mistakes such as an unknown keyword fail here too.
The real thing is exercised by running the example workflow in a real ComfyUI (see README).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class _Input:
    def __init__(self, id: str, display_name: str = None, optional: bool = False, tooltip: str = None,
                 lazy: bool = None, **widget):
        self.id, self.display_name, self.optional, self.tooltip, self.lazy = id, display_name, optional, tooltip, lazy
        self.widget = widget

    @property
    def io_type(self) -> str:
        return self.Parent.io_type


class _Output:
    def __init__(self, id: str = None, display_name: str = None, tooltip: str = None, is_output_list: bool = False):
        self.id, self.display_name, self.tooltip, self.is_output_list = id, display_name, tooltip, is_output_list

    @property
    def io_type(self) -> str:
        return self.Parent.io_type


def _type(io_type: str, input_cls=_Input):
    class Input(input_cls):
        pass

    class Output(_Output):
        pass

    cls = type(io_type, (), {"io_type": io_type, "Input": Input, "Output": Output})
    Input.Parent = Output.Parent = cls
    return cls


class _BooleanInput(_Input):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, label_on=None,
                 label_off=None, socketless=None, force_input=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default=default)


class _IntInput(_Input):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, min=None,
                 max=None, step=None, control_after_generate=None, display_mode=None, socketless=None,
                 force_input=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default=default, min=min, max=max, step=step,
                         control_after_generate=control_after_generate)


class _FloatInput(_Input):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, min=None,
                 max=None, step=None, round=None, display_mode=None, socketless=None, force_input=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default=default, min=min, max=max, step=step)


class _StringInput(_Input):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, multiline=False,
                 placeholder=None, default=None, dynamic_prompts=None, socketless=None, force_input=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default=default, multiline=multiline)


class _ComboInput(_Input):
    def __init__(self, id, options=None, display_name=None, optional=False, tooltip=None, lazy=None, default=None,
                 control_after_generate=None, upload=None, image_folder=None, remote=None, socketless=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default=default, options=list(options or []))


class _FolderType(str, Enum):
    input = "input"
    output = "output"
    temp = "temp"


class io:
    FolderType = _FolderType
    Boolean = _type("BOOLEAN", _BooleanInput)
    Int = _type("INT", _IntInput)
    Float = _type("FLOAT", _FloatInput)
    String = _type("STRING", _StringInput)
    Combo = _type("COMBO", _ComboInput)
    Image = _type("IMAGE")
    Mask = _type("MASK")
    Audio = _type("AUDIO")
    Video = _type("VIDEO")
    Model = _type("MODEL")
    Sampler = _type("SAMPLER")
    Sigmas = _type("SIGMAS")

    @staticmethod
    def Custom(io_type: str):
        return _type(io_type)

    @dataclass
    class Schema:
        node_id: str
        display_name: str = None
        category: str = "sd"
        inputs: list = field(default_factory=list)
        outputs: list = field(default_factory=list)
        hidden: list = None
        description: str = ""
        is_input_list: bool = False
        is_output_node: bool = False
        is_deprecated: bool = False
        is_experimental: bool = False
        is_api_node: bool = False
        not_idempotent: bool = False
        enable_expand: bool = False

        def validate(self):
            """The real Schema's rule: ids unique among inputs, among outputs, and between the two."""
            ins, outs = [i.id for i in self.inputs or []], [o.id for o in self.outputs or []]
            if len(set(ins)) != len(ins) or len(set(outs)) != len(outs) or set(ins) & set(outs):
                raise ValueError(f"{self.node_id}: input and output ids must be unique: {ins} / {outs}")

    class ComfyNode:
        @classmethod
        def define_schema(cls):
            raise NotImplementedError

        @classmethod
        def execute(cls, **kwargs):
            raise NotImplementedError

    class NodeOutput:
        def __init__(self, *args: Any, ui=None, expand=None, block_execution=None):
            self.args, self.ui = args, ui

        def __getitem__(self, index):
            return self.args[index]


class ui:
    class PreviewText:
        def __init__(self, value: str, **kwargs):
            self.value = value

        def as_dict(self):
            return {"text": (self.value,)}

    class SavedResult(dict):
        def __init__(self, filename: str, subfolder: str, type: _FolderType):
            super().__init__(filename=filename, subfolder=subfolder, type=type.value)

    class PreviewVideo:
        def __init__(self, values: list, **kwargs):
            self.values = values

        def as_dict(self):
            return {"images": self.values, "animated": (True,)}


class InputImpl:
    class VideoFromFile:
        """The real one reads the file with PyAV; the pack only hands it a path and reads it back as one."""

        def __init__(self, file):
            self._file = file

        def get_stream_source(self):
            return self._file


class ComfyExtension:
    async def on_load(self) -> None:
        pass

    async def get_node_list(self) -> list:
        raise NotImplementedError
