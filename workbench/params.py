"""Validation of the parameters a subject notebook (or the CLI) receives, before any work starts.

Each subject declares its parameters once in :data:`SPECS`: type, range and, for text, what it
may look like. :func:`validate` checks a notebook's namespace against that declaration and
raises :class:`ParameterError` naming the parameter on the first problem: an unknown name, a
wrong type, a value out of range, or a string shaped like code. Text parameters accept only
what their kind allows:

* ``month``: ``YYYY-MM`` (e.g. ``2026-10``);
* ``identifier``: letters, digits, ``_``, ``-`` and ``.``, at most 64 characters (ids such as
  ``GZ``, ``ALL`` or ``online_app``), never ``.`` or ``..`` (see :mod:`workbench.names`);
* ``path``: a file or folder path of letters, digits, ``_ - . / :`` and spaces (empty allowed);
* ``choice``: one of the listed values.

Anything containing a code marker (``__``, ``;``, backticks, ``$(``, ``os.system``, ``eval(``,
``exec(``, ``import``, quotes, brackets, newlines...) is refused outright, whatever its kind.
"""

from __future__ import annotations

import json
import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from workbench.analysis.churn_params import ChurnParams
from workbench.analysis.roi import DEFAULT_VALUATION
from workbench.catalog.results import N_REASONS
from workbench.errors import ParameterError
from workbench.names import is_identifier

Kind = Literal["month", "identifier", "path", "choice"]

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_PATH = re.compile(r"[A-Za-z0-9_.\-/: ]{0,1024}")
CODE_MARKERS: tuple[str, ...] = (
    "__",
    ";",
    "`",
    "$(",
    "${",
    "os.system",
    "subprocess",
    "eval(",
    "exec(",
    "import ",
    "lambda ",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "\n",
    "\r",
    "|",
    "&",
    "<",
    ">",
)
_KIND_HELP = {
    "month": "a month like 2026-10",
    "identifier": "an identifier of letters, digits, _ - . (at most 64 characters)",
    "path": "a path of letters, digits, _ - . / : and spaces",
    "choice": "one of the listed values",
}
# Names IPython and papermill put in a notebook's namespace besides the parameters.
_IGNORED = {"In", "Out", "exit", "quit", "get_ipython", "display"}


@dataclass(frozen=True)
class Param:
    """One parameter: its Python type, help in English and Chinese, range (numbers) or kind
    (text), and default."""

    type: type
    description: str
    description_zh: str
    low: float | None = None
    high: float | None = None
    kind: Kind | None = None
    choices: tuple[str, ...] = ()
    default: Any = None  # the notebook's value when nobody passes one

    @property
    def help(self) -> str:
        """Both languages' help, as the notebook cell, papermill and the command line show it."""
        return f"{self.description} · {self.description_zh}"

    def declaration(self, name: str) -> str:
        """The parameter's line in a notebook's ``parameters`` cell."""
        value = json.dumps(self.default, ensure_ascii=False) if self.type is str else self.default
        return f"{name}: {self.type.__name__} = {value}  # {self.help}"

    def check(self, name: str, value: Any) -> Any:
        """The value, converted where harmless (int -> float); raises naming ``name``."""
        expected = self.type.__name__
        if self.type is bool:
            if not isinstance(value, bool):
                raise ParameterError(f"parameter {name!r}: expected bool, got {value!r}")
            return value
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterError(f"parameter {name!r}: expected int, got {value!r}")
            return self._range(name, value)
        if self.type is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParameterError(f"parameter {name!r}: expected float, got {value!r}")
            if math.isnan(value) or math.isinf(value):
                raise ParameterError(f"parameter {name!r}: must be a finite number, got {value!r}")
            return self._range(name, float(value))
        if self.type is str:
            if not isinstance(value, str):
                raise ParameterError(f"parameter {name!r}: expected str, got {value!r}")
            return self._text(name, value)
        raise ParameterError(f"parameter {name!r}: unsupported type {expected}")

    def _range(self, name: str, value: float) -> Any:
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise ParameterError(
                f"parameter {name!r}: {value!r} is out of range [{self.low}, {self.high}]"
            )
        return value

    def _text(self, name: str, value: str) -> str:
        lowered = value.lower()
        for marker in CODE_MARKERS:
            if marker in lowered:
                raise ParameterError(
                    f"parameter {name!r}: value {value!r} looks like code (contains "
                    f"{marker!r}); allowed: {self.allowed}"
                )
        ok = {
            "month": lambda v: _MONTH.fullmatch(v) is not None,
            "identifier": is_identifier,
            "path": lambda v: _PATH.fullmatch(v) is not None and ".." not in v.split("/"),
            "choice": lambda v: v in self.choices,
        }[self.kind or "identifier"](value)
        if not ok:
            raise ParameterError(
                f"parameter {name!r}: {value!r} is not allowed; expected {self.allowed}"
            )
        return value

    @property
    def allowed(self) -> str:
        """What values the parameter takes, in words (for errors and help)."""
        if self.type is bool:
            return "true or false"
        if self.type in (int, float):
            return f"{self.low} to {self.high}"
        if self.kind == "choice":
            return f"one of {', '.join(self.choices)}"
        return _KIND_HELP[self.kind or "identifier"]


#: what every subject takes: the month, the project and where the report goes (set by the runner)
COMMON: dict[str, Param] = {
    "period": Param(str, "month analysed (YYYY-MM)", "分析月份", kind="month", default="2026-06"),
    "config_path": Param(
        str,
        "the project's pipelines/config.yml; empty: found from the working folder",
        "项目配置文件；留空则从工作目录查找",
        kind="path",
        default="",
    ),
    "output_dir": Param(
        str,
        "folder for the report's files; empty: reports/<subject>/<period>/",
        "报告输出目录；留空则为 reports/<专题>/<月份>/",
        kind="path",
        default="",
    ),
}

# Parameters several subjects share, declared once.
REGION = Param(str, "region to show, or ALL", "地市，ALL 为全部", kind="identifier", default="ALL")
SEGMENT = Param(
    str, "segment to show, or ALL", "客户分群，ALL 为全部", kind="identifier", default="ALL"
)
PLAN_TYPE = Param(
    str, "plan type to show, or ALL", "付费类型，ALL 为全部", kind="identifier", default="ALL"
)
CONFIDENCE = Param(
    float,
    "two-sided confidence level of the intervals",
    "区间的双侧置信水平",
    0.5,
    0.999,
    default=0.95,
)
CHURN_MONTHS = Param(
    int,
    "latest months with observed churn pooled",
    "合并计算离网的最近月数",
    1,
    24,
    default=3,
)

SPECS: dict[str, dict[str, Param]] = {
    "churn": {
        **COMMON,
        "horizon_months": Param(
            int,
            "label window: 1 (churn next month) or the warehouse's churn_horizon_months",
            "预测窗口：1（下月离网）或数仓的 churn_horizon_months",
            1,
            12,
            default=1,
        ),
        "train_months": Param(
            int, "months of features used for training", "训练使用的特征月数", 1, 24, default=3
        ),
        "sample_size": Param(
            int,
            "most training rows pulled to the driver",
            "取到驱动端的最多训练行数",
            500,
            5_000_000,
            default=200_000,
        ),
        # at most the reason columns ads_churn_scores has
        "top_n_reasons": Param(
            int,
            "reason codes per scored subscriber",
            "每个用户的离网原因条数",
            1,
            N_REASONS,
            default=N_REASONS,
        ),
        "num_boost_round": Param(
            int, "boosting rounds of LightGBM", "LightGBM 迭代轮数", 10, 5000, default=400
        ),
        "seed": Param(
            int,
            "seed of sampling and training",
            "抽样与训练的随机种子",
            0,
            2_147_483_647,
            default=ChurnParams.seed,
        ),
    },
    "cross_sell": {
        **COMMON,
        "min_support": Param(
            float,
            "share of subscribers holding the itemset",
            "最小支持度：持有该组合的用户占比",
            0.0001,
            1.0,
            default=0.01,
        ),
        "min_confidence": Param(
            float,
            "share of antecedent holders holding the offer",
            "最小置信度：持有前项者中持有推荐产品的占比",
            0.01,
            1.0,
            default=0.1,
        ),
        "max_len": Param(int, "most products in a rule", "规则中最多产品数", 2, 6, default=4),
        "top_n_offers": Param(int, "offers per subscriber", "每个用户的推荐数", 1, 10, default=3),
        "by_groups": Param(
            bool,
            "also mine rules per region and per segment",
            "同时按地市和分群挖掘规则",
            default=True,
        ),
    },
    "channel_roi": {
        **COMMON,
        "margin": Param(
            float,
            "contribution margin as a share of revenue",
            "毛利率（占收入比例）",
            0.0,
            1.0,
            default=DEFAULT_VALUATION.margin,
        ),
        "horizon_months": Param(
            int,
            "lifetime value horizon in months",
            "客户价值计算期限（月）",
            1,
            120,
            default=DEFAULT_VALUATION.horizon_months,
        ),
        "annual_discount_rate": Param(
            float,
            "yearly discount rate of future margin",
            "未来毛利的年折现率",
            0.0,
            1.0,
            default=DEFAULT_VALUATION.annual_discount_rate,
        ),
        "min_at_risk": Param(
            int,
            "lines needed to trust a survival month",
            "可信存活率所需的最少在网用户数",
            1,
            100_000,
            default=DEFAULT_VALUATION.min_at_risk,
        ),
    },
    "campaign_roi": {
        **COMMON,
        "confidence": CONFIDENCE,
        "include_incomplete": Param(
            bool,
            "also show campaigns whose window is still open",
            "同时显示观察期未结束的营销活动",
            default=True,
        ),
        "campaign_id": Param(
            str,
            "campaign to show (even if its window is open), or ALL",
            "要显示的营销活动（观察期未结束也显示），ALL 为全部",
            default="ALL",
        ),
    },
    "kpi_overview": {**COMMON, "region_id": REGION, "segment": SEGMENT, "plan_type": PLAN_TYPE},
    "service_quality": {
        **COMMON,
        "region_id": REGION,
        "poor_drop_rate": Param(
            float,
            "mean daily drop rate from which a cell is poor",
            "日均掉话率达到该值即为质差小区",
            0.001,
            0.5,
            default=0.03,
        ),
        "churn_months": CHURN_MONTHS,
        "confidence": CONFIDENCE,
    },
    "competition": {
        **COMMON,
        "region_id": REGION,
        "segment": SEGMENT,
        "churn_months": CHURN_MONTHS,
        "top_n": Param(
            int, "rising-share lines listed", "列出的异网份额上升用户数", 1, 10_000, default=100
        ),
        "confidence": CONFIDENCE,
    },
    "new_products": {
        **COMMON,
        "product_id": Param(
            str,
            "product analysed, or NEWEST (the latest launch)",
            "分析的产品，NEWEST 为最新上市产品",
            kind="identifier",
            default="NEWEST",
        ),
        "confidence": CONFIDENCE,
    },
    "value_segments": {**COMMON, "region_id": REGION, "segment": SEGMENT},
    "truth": {**COMMON},
    "key_accounts": {
        **COMMON,
        "region_id": REGION,
        "manager_id": Param(
            str,
            "key-account manager to show (KAM-01...), or ALL",
            "要显示的客户经理（KAM-01...），ALL 为全部",
            kind="identifier",
            default="ALL",
        ),
        "n_managers": Param(
            int,
            "key-account managers the accounts are shared among",
            "分管集团客户的客户经理人数",
            1,
            50,
            default=3,
        ),
        "revenue_drop": Param(
            float,
            "month-on-month revenue fall that raises a warning",
            "触发预警的收入环比降幅",
            0.01,
            0.9,
            default=0.1,
        ),
        "top_fraction": Param(
            float,
            "top share of customers whose revenue share is shown",
            "显示其收入占比的头部客户比例",
            0.01,
            1.0,
            default=0.2,
        ),
    },
    "revenue": {
        **COMMON,
        "region_id": REGION,
        "plan_type": PLAN_TYPE,
        "horizon_months": Param(
            int, "months forecast after the period", "预测的未来月数", 1, 24, default=3
        ),
        "confidence": Param(
            float,
            "coverage of the forecast's prediction interval",
            "预测区间的覆盖率",
            0.5,
            0.99,
            default=0.9,
        ),
    },
}


def spec_of(subject: str) -> dict[str, Param]:
    """A subject's declared parameters, or :class:`ParameterError` naming the known subjects."""
    if subject not in SPECS:
        raise ParameterError(f"unknown subject {subject!r}; known: {', '.join(sorted(SPECS))}")
    return SPECS[subject]


def defaults(subject: str) -> dict[str, Any]:
    """A subject's own parameters (not :data:`COMMON`) with their declared defaults: what the
    subject's function, the dashboards and the benchmark use when nobody passes a value."""
    return {n: p.default for n, p in spec_of(subject).items() if n not in COMMON}


def parameters_cell(subject: str) -> str:
    """The source of a subject notebook's ``parameters`` cell, written from :data:`SPECS`
    (``workbench report params --write`` puts it in the notebook; a test checks they agree)."""
    return "\n".join(param.declaration(name) for name, param in spec_of(subject).items())


def _is_parameter_like(name: str, value: Any) -> bool:
    """Whether a namespace entry can be a parameter (not a module, function, class or IPython's)."""
    if name.startswith("_") or name in _IGNORED:
        return False
    return not isinstance(
        value, types.ModuleType | types.FunctionType | types.BuiltinFunctionType | type
    )


def validate(subject: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Check a subject's parameters, e.g. ``validate("churn", globals())`` in a notebook.

    Every declared parameter must be present; any other public, non-module, non-function name
    in the namespace is an unknown parameter.

    Returns:
        the parameters by name, in declaration order, numbers converted (int -> float).

    Raises:
        ParameterError: naming the first parameter at fault.
    """
    spec = spec_of(subject)
    unknown = sorted(n for n, v in namespace.items() if n not in spec and _is_parameter_like(n, v))
    if unknown:
        raise ParameterError(
            f"unknown parameter {unknown[0]!r} for {subject}; known: {', '.join(spec)}"
        )
    out: dict[str, Any] = {}
    for name, param in spec.items():
        if name not in namespace:
            raise ParameterError(f"parameter {name!r} is missing for {subject}")
        out[name] = param.check(name, namespace[name])
    return out


def check_overrides(subject: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check parameters given from outside (CLI, :func:`workbench.reports.run_subject`): known
    names with valid values; missing ones keep the notebook's defaults."""
    spec = spec_of(subject)
    out = {}
    for name, value in parameters.items():
        if name not in spec:
            raise ParameterError(
                f"unknown parameter {name!r} for {subject}; known: {', '.join(spec)}"
            )
        out[name] = spec[name].check(name, value)
    return out


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise ValueError(text)


def coerce_overrides(subject: str, texts: Mapping[str, str]) -> dict[str, Any]:
    """Typed, checked parameters from ``name=value`` text (the command line's ``-p``)."""
    spec = spec_of(subject)
    parsers = {bool: _parse_bool, int: int, float: float, str: str}
    typed: dict[str, Any] = {}
    for name, text in texts.items():
        if name not in spec:
            raise ParameterError(
                f"unknown parameter {name!r} for {subject}; known: {', '.join(spec)}"
            )
        try:
            typed[name] = parsers[spec[name].type](text)
        except ValueError:
            raise ParameterError(
                f"parameter {name!r}: expected {spec[name].type.__name__}, got {text!r}"
            ) from None
    return check_overrides(subject, typed)
