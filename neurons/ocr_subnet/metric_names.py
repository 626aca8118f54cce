"""Every metric name the project exposes or reads, in one place.

The validator, the miner, the operator, the Grafana dashboard and the alert rules all take
their names from here, so a rename cannot leave one of them behind. Our own series carry
the `ocr_subnet_` prefix; Triton's `nv_inference_*` series are listed because the operator
and the dashboards read them.
"""

from __future__ import annotations

PREFIX = "ocr_subnet_"

# Validator
VALIDATOR_MINER_EMA = PREFIX + "validator_miner_ema_score"  # labels: validator_hotkey, uid, miner_hotkey
VALIDATOR_REWARD_PART = PREFIX + "validator_reward_part"  # labels: validator_hotkey, uid, miner_hotkey, part
VALIDATOR_QUERY_LATENCY = PREFIX + "validator_query_latency_seconds"  # histogram, labels: validator_hotkey
VALIDATOR_RESPONSES = PREFIX + "validator_responses_total"  # labels: validator_hotkey, outcome
VALIDATOR_ROUNDS = PREFIX + "validator_rounds_total"  # labels: validator_hotkey
VALIDATOR_ROUND_DURATION = PREFIX + "validator_round_duration_seconds"  # histogram, labels: validator_hotkey
VALIDATOR_WEIGHT_SET_ATTEMPTS = PREFIX + "validator_weight_set_attempts_total"  # labels: validator_hotkey, result
VALIDATOR_LAST_WEIGHT_SET_BLOCK = PREFIX + "validator_last_weight_set_block"  # labels: validator_hotkey
VALIDATOR_CURRENT_BLOCK = PREFIX + "validator_current_block"  # labels: validator_hotkey
VALIDATOR_WEIGHTS_RATE_LIMIT = PREFIX + "validator_weights_rate_limit_blocks"  # labels: validator_hotkey
VALIDATOR_TEMPO = PREFIX + "validator_tempo_blocks"  # labels: validator_hotkey
VALIDATOR_STATE_SAVES = PREFIX + "validator_state_saves_total"  # labels: validator_hotkey, result

# Miner
MINER_REQUESTS = PREFIX + "miner_requests_total"  # labels: miner_hotkey, outcome
MINER_REQUEST_LATENCY = PREFIX + "miner_request_duration_seconds"  # histogram, labels: miner_hotkey
MINER_BACKEND_LATENCY = PREFIX + "miner_backend_duration_seconds"  # histogram, labels: miner_hotkey, backend
MINER_IN_FLIGHT = PREFIX + "miner_requests_in_flight"  # labels: miner_hotkey
MINER_QUEUED = PREFIX + "miner_requests_queued"  # labels: miner_hotkey; waiting for a backend slot

# Gateway (organic queries)
GATEWAY_REQUESTS = PREFIX + "gateway_requests_total"  # labels: key, outcome (GATEWAY_OUTCOMES)
GATEWAY_PAGES = PREFIX + "gateway_pages_total"  # labels: key, outcome (GATEWAY_PAGE_OUTCOMES)
GATEWAY_STAGE_LATENCY = PREFIX + "gateway_stage_duration_seconds"  # histogram, labels: stage (GATEWAY_STAGES)
# labels: miner_hotkey, result (passed, failed); one per organic verdict, so summed over result it is the
# pages behind GATEWAY_ORGANIC_EMA: the validator weighs gateway replicas by it (`gateway.exchange`)
GATEWAY_VERIFICATIONS = PREFIX + "gateway_verifications_total"
GATEWAY_AGREEMENT = PREFIX + "gateway_miner_agreement"  # histogram: two miners' agreement on one page
GATEWAY_ORGANIC_EMA = PREFIX + "gateway_organic_ema"  # labels: miner_hotkey; read by the validator
GATEWAY_JOBS = PREFIX + "gateway_jobs"  # jobs held in the store

# Operator
OPERATOR_RECONCILES = PREFIX + "operator_reconciles_total"  # labels: kind, result
OPERATOR_RECONCILE_LATENCY = PREFIX + "operator_reconcile_duration_seconds"  # labels: kind
OPERATOR_SCALING_DECISIONS = PREFIX + "operator_scaling_decisions_total"  # labels: direction
OPERATOR_HEALTH = PREFIX + "operator_health_condition"  # labels: kind, namespace, name, condition; 1/0/-1 unknown
OPERATOR_TRITON_REPLICAS = PREFIX + "operator_triton_replicas"  # labels: namespace, name; as the scaler set them

# Triton's own series (read, never exposed by us)
TRITON_REQUEST_SUCCESS = "nv_inference_request_success"
TRITON_REQUEST_FAILURE = "nv_inference_request_failure"
TRITON_QUEUE_DURATION_US = "nv_inference_queue_duration_us"
TRITON_COMPUTE_INFER_DURATION_US = "nv_inference_compute_infer_duration_us"
TRITON_PENDING_REQUEST_COUNT = "nv_inference_pending_request_count"

# Label values shared by producers and consumers
MINER_OUTCOMES = (
    "ok",
    "unauthorized",
    "blacklisted",
    "bad_request",
    "too_large",
    "overloaded",
    "backend_error",
)
GATEWAY_OUTCOMES = ("ok", "bad_request", "unauthorized", "rate_limited", "too_large", "failed")
GATEWAY_PAGE_OUTCOMES = ("verified", "failed")
GATEWAY_STAGES = ("queue", "miners", "verification")
VALIDATOR_RESPONSE_OUTCOMES = ("ok", "timeout", "http_error", "invalid", "too_large", "unreachable")
WEIGHT_SET_RESULTS = ("success", "rate_limited", "chain_error", "rejected")
REWARD_PARTS = ("text", "position", "font", "prediction", "time", "total")
STATE_SAVE_RESULTS = ("success", "error")
RECONCILE_RESULTS = ("success", "retry", "invalid")  # invalid: a spec the builders refuse, reported in status
SCALING_DIRECTIONS = ("up", "down", "hold")
