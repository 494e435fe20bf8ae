"""Reads template.yaml: the functions, their handlers and their HTTP API routes.

The local gateway, the OpenAPI generator and the benchmark all discover functions here, so the
template stays the one list of what the API is.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# What Lambda uses when neither the function nor Globals set Timeout / MemorySize.
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3.0
LAMBDA_DEFAULT_MEMORY_MB = 128


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that accepts CloudFormation's short-form tags (!Ref, !Sub, !GetAtt...)."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {f"Fn::{tag_suffix}" if tag_suffix != "Ref" else "Ref": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@dataclass(frozen=True)
class Route:
    method: str  # upper case; ANY for the catch-all
    path: str  # API Gateway syntax: /v1/signals/{id}, or $default

    @property
    def is_default(self) -> bool:
        return self.path == "$default"


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # logical ID in the template
    code_uri: Path
    handler: str  # module.attribute
    routes: tuple[Route, ...] = ()
    # The WebSocket API's route keys ($connect, $disconnect, $default) whose integration invokes the function.
    stream_routes: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = LAMBDA_DEFAULT_TIMEOUT_SECONDS
    memory_size_mb: int = LAMBDA_DEFAULT_MEMORY_MB

    @property
    def module_name(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def source(self) -> Path:
        return self.code_uri / (self.module_name.replace(".", "/") + ".py")


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)
    return document


@cache
def functions(path: Path = TEMPLATE) -> tuple[FunctionSpec, ...]:
    """Every AWS::Serverless::Function of the template, in template order."""
    document = load_template(path)
    globals_function = document.get("Globals", {}).get("Function", {})
    globals_env = globals_function.get("Environment", {}).get("Variables", {})
    stream_routes = _websocket_routes(document.get("Resources", {}))
    specs = []
    for name, resource in document.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        routes = tuple(
            Route(str(ev["Properties"].get("Method", "ANY")).upper(), str(ev["Properties"].get("Path", "$default")))
            for ev in (props.get("Events") or {}).values()
            if ev.get("Type") == "HttpApi"
        )
        env = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
        specs.append(
            FunctionSpec(
                name=name,
                code_uri=path.parent / props["CodeUri"],
                handler=props["Handler"],
                routes=routes,
                stream_routes=tuple(key for key, function in stream_routes.items() if function == name),
                environment={k: v for k, v in env.items() if isinstance(v, str)},
                timeout_seconds=float(
                    _number(props.get("Timeout", globals_function.get("Timeout")), LAMBDA_DEFAULT_TIMEOUT_SECONDS)
                ),
                memory_size_mb=int(
                    _number(props.get("MemorySize", globals_function.get("MemorySize")), LAMBDA_DEFAULT_MEMORY_MB)
                ),
            )
        )
    return tuple(specs)


def _websocket_routes(resources: dict[str, Any]) -> dict[str, str]:
    """Route key -> logical ID of the function its AWS_PROXY integration invokes, for the WebSocket API's
    routes (`Target: !Sub integrations/${Integration}`, an IntegrationUri naming `!Ref Function.Alias`)."""
    found = {}
    for resource in resources.values():
        if resource.get("Type") != "AWS::ApiGatewayV2::Route":
            continue
        properties = resource["Properties"]
        target = str(properties.get("Target", {}).get("Fn::Sub", ""))
        integration = resources.get(target.removeprefix("integrations/${").removesuffix("}"), {})
        uri = integration.get("Properties", {}).get("IntegrationUri", {})
        parts = uri.get("Fn::Join", ["", []])[1] if isinstance(uri, dict) else []
        functions = [part["Ref"].removesuffix(".Alias") for part in parts if isinstance(part, dict) and "Ref" in part]
        if functions:
            found[str(properties["RouteKey"])] = functions[0]
    return found


def stream_functions(path: Path = TEMPLATE) -> tuple[FunctionSpec, ...]:
    """The functions of the WebSocket API's routes."""
    return tuple(spec for spec in functions(path) if spec.stream_routes)


def _number(value: Any, default: float) -> float:
    """A literal number of the template; intrinsic functions (!Ref...) fall back to Lambda's default."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else default


def http_functions(path: Path = TEMPLATE) -> tuple[FunctionSpec, ...]:
    return tuple(spec for spec in functions(path) if spec.routes)


def import_function(spec: FunctionSpec) -> ModuleType:
    """Import a function's module from its file, as Lambda would: once, under a name of its own."""
    module_name = f"invest_function_{spec.name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    module_spec = importlib.util.spec_from_file_location(module_name, spec.source)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {spec.source}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    return module


class Intrinsic(str):
    """A CloudFormation function in its short form (`!Ref Name`); several lines make a literal block."""

    tag = ""


class Ref(Intrinsic):
    tag = "!Ref"


class Sub(Intrinsic):
    tag = "!Sub"


class GetAtt(Intrinsic):
    tag = "!GetAtt"


def intrinsic(text: str) -> Intrinsic:
    """`!Ref Name`, `!Sub text` or `!GetAtt Name.Attribute`, as written in PASSED."""
    tag, value = text.split(" ", 1)
    return {cls.tag: cls for cls in (Ref, Sub, GetAtt)}[tag](value)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # each alarm spells its dimensions out rather than pointing at another's

    def choose_scalar_style(self) -> str:
        # `!Ref Name`, not `!Ref 'Name'`: PyYAML quotes every scalar of a tag it does not resolve itself
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and event.tag in (Ref.tag, Sub.tag, GetAtt.tag) and not event.style:
            analysis = self.analysis or self.analyze_scalar(event.value)
            if analysis.allow_block_plain and not analysis.multiline:
                return ""
        return str(super().choose_scalar_style())


_Dumper.add_multi_representer(
    Intrinsic, lambda dumper, data: dumper.represent_scalar(data.tag, str(data), "|" if "\n" in data else None)
)


def dump_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100_000, allow_unicode=True)
