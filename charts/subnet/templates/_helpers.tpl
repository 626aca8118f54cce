{{/* Names: <release>-<chart> unless overridden, cut to leave room for the longest suffix ("-operator-metrics"). */}}
{{- define "subnet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "subnet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; `component` names the part (operator, local-chain, ...). */}}
{{- define "subnet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .context.Chart.Name .context.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
{{ include "subnet.selectorLabels" . }}
{{- end -}}

{{- define "subnet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "subnet.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* <registry>/<name>:<tag or appVersion> */}}
{{- define "subnet.image" -}}
{{- printf "%s/%s:%s" .context.Values.images.registry .name (default .context.Chart.AppVersion .context.Values.images.tag) -}}
{{- end -}}

{{- define "subnet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "subnet.fullname" .)) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "subnet.localChainName" -}}
{{- printf "%s-chain" (include "subnet.fullname" .) -}}
{{- end -}}

{{/* The local chain's in-cluster URL, what neurons pass as --network. */}}
{{- define "subnet.localChainUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "subnet.localChainName" .) .Release.Namespace (int .Values.localChain.port) -}}
{{- end -}}

{{/* Whether to create Prometheus Operator objects: monitoring.enabled true, or auto and the API is served. */}}
{{- define "subnet.monitoring" -}}
{{- $enabled := .Values.monitoring.enabled -}}
{{- if or (eq (toString $enabled) "true") (and (eq (toString $enabled) "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) -}}
true
{{- end -}}
{{- end -}}

{{/* The operator's RBAC rules, exactly as `ocr-subnet operator rbac` renders them from the operator's code. */}}
{{- define "subnet.operatorRules" -}}
{{- /* The ClusterRole's rules, or in namespaced mode (operator.watchNamespaces) the Role's, from the files
     `ocr-subnet operator rbac` renders from the operator's code. */ -}}
{{- $file := ternary "rbac/operator-rbac-namespaced.yaml" "rbac/operator-rbac.yaml" (gt (len .Values.operator.watchNamespaces) 0) -}}
{{- $kind := ternary "Role" "ClusterRole" (gt (len .Values.operator.watchNamespaces) 0) -}}
{{- $rules := list -}}
{{- range $document := splitList "\n---\n" (.Files.Get $file) -}}
{{- $manifest := fromYaml $document -}}
{{- if and (eq (get $manifest "kind") $kind) (not $rules) -}}
{{- $rules = get $manifest "rules" -}}
{{- end -}}
{{- end -}}
{{- if not $rules -}}
{{- fail (printf "%s holds no %s: run `ocr-subnet operator rbac` (see charts/subnet/rbac/)" $file $kind) -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/* A Validator's or Miner's spec with the chart's defaults: our images, and the local chain when it runs. */}}
{{- define "subnet.neuronSpec" -}}
{{- $ctx := .context -}}
{{- $spec := deepCopy .spec -}}
{{- if not (hasKey $spec "image") -}}
{{- $_ := set $spec "image" (include "subnet.image" (dict "context" $ctx "name" "neuron")) -}}
{{- end -}}
{{- if and $ctx.Values.localChain.enabled (not (hasKey $spec "chain")) -}}
{{- $_ := set $spec "chain" (dict "endpoint" (include "subnet.localChainUrl" $ctx) "netuid" (int $ctx.Values.localChain.netuid)) -}}
{{- end -}}
{{- if and (eq .kind "Miner") (eq (default "triton" (get $spec "backend")) "triton") -}}
{{- $triton := default dict (get $spec "triton") -}}
{{- if not (hasKey $triton "image") -}}
{{- $_ := set $triton "image" (include "subnet.image" (dict "context" $ctx "name" "triton")) -}}
{{- end -}}
{{- $_ := set $spec "triton" $triton -}}
{{- end -}}
{{- toYaml $spec -}}
{{- end -}}

{{/* Security settings every container of the chart runs with. */}}
{{- define "subnet.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "subnet.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* `imagePullSecrets: [...]`, or nothing when there are none. */}}
{{- define "subnet.imagePullSecrets" -}}
{{- with .Values.images.pullSecrets -}}
imagePullSecrets:
{{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- /* The Secrets of operator.prometheusAuth as pod volumes, named prometheus-<token|basic|ca> (the mount
     folder under /etc/ocr-subnet/prometheus/), each with only the keys the operator reads. */ -}}
{{- define "subnet.prometheusSecretVolumes" -}}
{{- $auth := .Values.operator.prometheusAuth -}}
{{- $volumes := list -}}
{{- with $auth.bearerTokenSecret -}}
{{- if .name -}}
{{- $volumes = append $volumes (dict "name" "prometheus-token" "secret" (dict "secretName" .name "items" (list (dict "key" .key "path" .key)))) -}}
{{- end -}}
{{- end -}}
{{- with $auth.basicAuthSecret -}}
{{- if .name -}}
{{- $items := list (dict "key" .usernameKey "path" .usernameKey) (dict "key" .passwordKey "path" .passwordKey) -}}
{{- $volumes = append $volumes (dict "name" "prometheus-basic" "secret" (dict "secretName" .name "items" $items)) -}}
{{- end -}}
{{- end -}}
{{- with $auth.caSecret -}}
{{- if .name -}}
{{- $volumes = append $volumes (dict "name" "prometheus-ca" "secret" (dict "secretName" .name "items" (list (dict "key" .key "path" .key)))) -}}
{{- end -}}
{{- end -}}
{{- toYaml $volumes -}}
{{- end -}}
