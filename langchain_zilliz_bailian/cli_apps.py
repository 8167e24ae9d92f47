"""``zilliz-bailian apps create|list|show|delete``: the apps of a data dir's registry
(``apps.json``, see :mod:`langchain_zilliz_bailian.server.apps`). A running server on the same
data dir sees a change on its next request; no server needs to run."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

APP_TYPES = ("model", "rag", "workflow")


def _parameter(value: str) -> dict[str, Any]:
    """``NAME[:required][:description]`` for a workflow start-node parameter."""
    name, _, rest = value.partition(":")
    flag, _, description = rest.partition(":")
    if flag not in ("", "required", "optional"):
        description, flag = rest, ""
    return {"name": name, "required": flag == "required", "description": description}


def add_apps_arguments(apps: argparse.ArgumentParser) -> None:
    """``apps create``, ``apps list``, ``apps show`` and ``apps delete``."""
    actions = apps.add_subparsers(dest="action", required=True)
    data_dir_help = (
        "state directory of the server (default: $ZILLIZ_BAILIAN_DATA_DIR, else the user cache dir)"
    )
    create = actions.add_parser(
        "create",
        help="define an app (prints its id)",
        description="Define an app in the data dir's registry and print its id. Without "
        "--model-base-url it answers with the offline extractive responder.",
    )
    create.add_argument("--data-dir", default=None, help=data_dir_help)
    create.add_argument("--app-id", default=None, help="id (default: 32 new hex characters)")
    create.add_argument(
        "--type",
        choices=APP_TYPES,
        default=None,
        help="default: rag with --pipeline-ids, else model",
    )
    create.add_argument("--description", default="")
    create.add_argument("--system-prompt", default="")
    create.add_argument("--pipeline-ids", default="", help="comma-separated search pipeline ids")
    create.add_argument("--top-k", type=int, default=5, help="passages retrieved per turn")
    create.add_argument("--min-score", type=float, default=0.05, help="passage score floor")
    create.add_argument("--model-base-url", default=None, help="OpenAI-compatible endpoint")
    create.add_argument("--model-name", default=None, help="model name at that endpoint")
    create.add_argument("--model-api-key-env", default=None, help="variable holding its key")
    create.add_argument(
        "--model-deadline",
        type=float,
        default=None,
        metavar="SECONDS",
        help="most seconds one answer may take (default 300)",
    )
    create.add_argument(
        "--parameter",
        action="append",
        type=_parameter,
        default=[],
        metavar="NAME[:required][:DESCRIPTION]",
        help="a workflow start-node parameter (repeatable)",
    )
    create.add_argument("--no-memory", action="store_true", help="ignore input.memory_id")
    create.add_argument("--replace", action="store_true", help="overwrite an app of that id")
    listing = actions.add_parser("list", help="list the defined apps")
    listing.add_argument("--data-dir", default=None, help=data_dir_help)
    for name, what in (("show", "print an app's definition (JSON)"), ("delete", "remove an app")):
        one = actions.add_parser(name, help=what)
        one.add_argument("app_id")
        one.add_argument("--data-dir", default=None, help=data_dir_help)


def _spec_fields(args: argparse.Namespace) -> dict[str, Any]:
    pipeline_ids = [p.strip() for p in args.pipeline_ids.split(",") if p.strip()]
    fields: dict[str, Any] = {
        "type": args.type or ("rag" if pipeline_ids else "model"),
        "description": args.description,
        "system_prompt": args.system_prompt,
        "pipeline_ids": pipeline_ids,
        "retrieval": {"top_k": args.top_k, "min_score": args.min_score},
        "parameters": args.parameter,
        "memory": not args.no_memory,
    }
    if args.app_id is not None:
        fields["app_id"] = args.app_id
    model_flags = (args.model_base_url, args.model_name, args.model_api_key_env)
    if any(model_flags) or args.model_deadline is not None:
        fields["model"] = {
            "base_url": args.model_base_url or "",
            "model": args.model_name or "",
            "api_key_env": args.model_api_key_env,
        }
        if args.model_deadline is not None:
            fields["model"]["deadline_s"] = args.model_deadline
    return fields


def apps(args: argparse.Namespace) -> int:
    """Run one ``apps`` action; 0 on success, 1 for a missing app, 2 for a bad definition."""
    from langchain_zilliz_bailian.server.apps import AppRegistry, AppSpec, AppSpecError
    from langchain_zilliz_bailian.server.ids import InvalidIdError

    prog = f"zilliz-bailian apps {args.action}"
    if args.data_dir is not None:
        data_dir = args.data_dir
    elif os.environ.get("ZILLIZ_BAILIAN_DATA_DIR"):
        data_dir = os.environ["ZILLIZ_BAILIAN_DATA_DIR"]
    else:
        from langchain_zilliz_bailian.server.storage import default_data_dir

        data_dir = str(default_data_dir())
    registry = AppRegistry(data_dir)
    try:
        if args.action == "create":
            spec = registry.create(AppSpec.build(**_spec_fields(args)), replace=args.replace)
            print(spec.app_id)
        elif args.action == "list":
            for spec in registry.list():
                kbs = ",".join(spec.pipeline_ids) or "-"
                model = spec.model.model if spec.model else "offline"
                print(f"{spec.app_id}  {spec.type:<8}  {model:<20}  {kbs}  {spec.description}")
        else:
            found = registry.get(args.app_id)
            if found is None:
                print(f"{prog}: no app {args.app_id!r} in {registry.path}", file=sys.stderr)
                return 1
            if args.action == "show":
                print(json.dumps(found.model_dump(mode="json"), ensure_ascii=False, indent=2))
            else:
                registry.delete(args.app_id)
                print(f"deleted {args.app_id}")
    except (AppSpecError, InvalidIdError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"{prog}: error: the registry {registry.path} cannot be used: {exc}", file=sys.stderr)
        return 1
    return 0
