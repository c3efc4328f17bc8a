{{- define "ratify.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ratify.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ratify.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ratify.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "ratify.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ratify.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- /* Ratify: ratify-admin unless named otherwise; "default" when none is created. */ -}}
{{- define "ratify.serviceAccountName" -}}
{{- if or .Values.azureWorkloadIdentity.clientId .Values.serviceAccount.create -}}
{{- default (include "ratify.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ratify.gatekeeperNamespace" -}}
{{- default "gatekeeper-system" .Values.gatekeeper.namespace -}}
{{- end -}}

{{- define "ratify.providerAPIVersion" -}}
{{- if semverCompare ">= 3.11.0" (toString .Values.gatekeeper.version) -}}
externaldata.gatekeeper.sh/v1beta1
{{- else -}}
externaldata.gatekeeper.sh/v1alpha1
{{- end -}}
{{- end -}}

{{- define "ratify.assignAPIVersion" -}}
{{- if semverCompare ">= 3.11.0" (toString .Values.gatekeeper.version) -}}
mutations.gatekeeper.sh/v1
{{- else -}}
mutations.gatekeeper.sh/v1beta1
{{- end -}}
{{- end -}}

{{- /* Seconds Gatekeeper waits: Ratify's key, else this chart's earlier `validation` / `mutation`. */ -}}
{{- define "ratify.validationTimeout" -}}
{{- int (coalesce .Values.provider.timeout.validationTimeoutSeconds (get .Values.provider.timeout "validation") 5) -}}
{{- end -}}
{{- define "ratify.mutationTimeout" -}}
{{- int (coalesce .Values.provider.timeout.mutationTimeoutSeconds (get .Values.provider.timeout "mutation") 2) -}}
{{- end -}}

{{- /* notationCerts, with Ratify's deprecated single notationCert (not both, as in Ratify). */ -}}
{{- define "ratify.notationCertNames" -}}
{{- $fullname := include "ratify.fullname" . -}}
{{- $names := list -}}
{{- if .Values.notationCert -}}
{{- if .Values.notationCerts -}}
{{- fail "Please specify notation certs with .Values.notationCerts, single certificate .Values.notationCert has been deprecated, will soon be removed." -}}
{{- end -}}
{{- $names = append $names (printf "%s-notation-inline-cert" $fullname) -}}
{{- end -}}
{{- range $i, $cert := .Values.notationCerts -}}
{{- $names = append $names (printf "%s-notation-inline-cert-%d" $fullname $i) -}}
{{- end -}}
{{- if or .Values.azurekeyvault.enabled .Values.akvCertConfig.enabled -}}
{{- $names = prepend $names "kmprovider-akv" -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{- /* cosignKeys; else Ratify's deprecated single cosign.key (its "legacy" mode, used only
without cosignKeys). */ -}}
{{- define "ratify.cosignKeyList" -}}
{{- $keys := .Values.cosignKeys | default list -}}
{{- if and (not $keys) .Values.cosign.key -}}{{- $keys = list .Values.cosign.key -}}{{- end -}}
{{- toJson $keys -}}
{{- end -}}

{{- /* The cosign trust policy's keys: the inline providers, or (no key, not keyless) the provider
cosignKeys[0] would create, so the verifier exists and every cosign signature fails until a key
is applied — Ratify's chart likewise always renders verifier-cosign. */ -}}
{{- define "ratify.cosignKeyProviders" -}}
{{- $fullname := include "ratify.fullname" . -}}
{{- $providers := list -}}
{{- range $i, $key := include "ratify.cosignKeyList" . | fromJsonArray -}}
{{- $providers = append $providers (dict "provider" (printf "%s-cosign-inline-key-%d" $fullname $i)) -}}
{{- end -}}
{{- if and .Values.azurekeyvault.enabled .Values.azurekeyvault.keys -}}
{{- $providers = append $providers (dict "provider" "kmprovider-akv") -}}
{{- end -}}
{{- if and (not $providers) (not (include "ratify.cosignKeyless" .)) -}}
{{- $providers = list (dict "provider" (printf "%s-cosign-inline-key-0" $fullname)) -}}
{{- end -}}
{{- toJson $providers -}}
{{- end -}}

{{- /* The store's cloud auth provider (Ratify's store.yaml), as JSON; empty when none. */ -}}
{{- define "ratify.cloudAuthProvider" -}}
{{- $a := .Values.oras.authProviders -}}
{{- if $a.azureWorkloadIdentityEnabled -}}
{{- toJson (dict "name" "azureWorkloadIdentity" "clientID" (.Values.azureWorkloadIdentity.clientId | default "") "endpoints" ($a.azureContainerRegistryEndpoints | default list)) -}}
{{- else if $a.azureManagedIdentityEnabled -}}
{{- toJson (dict "name" "azureManagedIdentity" "clientID" (.Values.azureManagedIdentity.clientId | default "") "endpoints" ($a.azureContainerRegistryEndpoints | default list)) -}}
{{- else if $a.awsEcrBasicEnabled -}}
{{- toJson (dict "name" "awsEcrBasic") -}}
{{- else if $a.alibabacloudAcrBasicEnabled -}}
{{- toJson (dict "name" "alibabacloudAcrBasic" "defaultInstanceId" (.Values.alibabacloudAcrConfig.defaultInstanceId | default "") "acrInstancesConfig" (.Values.alibabacloudAcrConfig.acrInstancesConfig | default list)) -}}
{{- end -}}
{{- end -}}

{{- define "ratify.cosignKeyless" -}}
{{- $k := .Values.cosign.keyless -}}
{{- if or $k.enabled $k.certificateIdentity $k.certificateIdentityRegExp $k.certificateOIDCIssuer $k.certificateOIDCIssuerRegExp -}}true{{- end -}}
{{- end -}}

{{- /* Ratify's logger.level names to ours. */ -}}
{{- define "ratify.logLevel" -}}
{{- $level := lower (toString (default "info" .Values.logger.level)) -}}
{{- $map := dict "trace" "trace" "debug" "debug" "info" "info" "warn" "warning" "warning" "warning" "error" "error" "fatal" "error" "panic" "error" -}}
{{- if not (hasKey $map $level) -}}
{{- fail (printf "logger.level %q must be one of trace, debug, info, warn, warning, error, fatal, panic" $level) -}}
{{- end -}}
{{- index $map $level -}}
{{- end -}}

{{- /* The verifier's trust policies from notation.trustPolicies, and the trust stores they name
(Ratify's verifier.yaml: `<type>:notationCerts[<i>]` becomes store cert-<n> of that type). */ -}}
{{- define "ratify.notationVerifier" -}}
{{- $fullname := include "ratify.fullname" . -}}
{{- $certNames := include "ratify.notationCertNames" . | fromJsonArray -}}
{{- /* No certificate given: the store names the provider notationCerts[0] would create, so the
verifier exists (as in Ratify) and every notation signature fails until one is applied. */ -}}
{{- if not $certNames -}}{{- $certNames = list (printf "%s-notation-inline-cert-0" $fullname) -}}{{- end -}}
{{- $policies := .Values.notation.trustPolicies | default (list (dict "name" "default")) -}}
{{- $stores := dict -}}
{{- $out := list -}}
{{- $index := 0 -}}
{{- $legacy := and (eq (len $policies) 1) (eq (len ((index $policies 0).trustStores | default list)) 0) -}}
{{- range $i, $p := $policies -}}
{{- $trustStores := list -}}
{{- if eq (len ($p.trustStores | default list)) 0 -}}
{{- $trustStores = list "ca:certs" -}}
{{- if not $legacy -}}{{- $_ := set $stores "certs" $certNames -}}{{- end -}}
{{- else -}}
{{- range $store := $p.trustStores -}}
{{- $parts := splitList ":" $store -}}
{{- if ne (len $parts) 2 -}}{{- fail (printf "notation.trustPolicies[%d].trustStores: %q must be <type>:notationCerts[<i>]" $i $store) -}}{{- end -}}
{{- $type := index $parts 0 -}}
{{- $ref := index $parts 1 -}}
{{- if not (has $type (list "ca" "tsa" "signingAuthority")) -}}{{- fail (printf "Unknown certificate type: %s" $type) -}}{{- end -}}
{{- $provider := "" -}}
{{- if eq (lower $ref) "azurekeyvault" -}}
{{- if not (or $.Values.azurekeyvault.enabled $.Values.akvCertConfig.enabled) -}}{{- fail (printf "trust store reference %s: azurekeyvault.enabled is false" $ref) -}}{{- end -}}
{{- $provider = "kmprovider-akv" -}}
{{- else if hasPrefix "notationcerts" (lower $ref) -}}
{{- $n := int (regexReplaceAll "[^0-9]" $ref "") -}}
{{- if ge $n (len $.Values.notationCerts) -}}{{- fail (printf "trust store reference %s: notationCerts has %d entries" $ref (len $.Values.notationCerts)) -}}{{- end -}}
{{- $provider = printf "%s-notation-inline-cert-%d" $fullname $n -}}
{{- else -}}
{{- fail (printf "Unknown trust store reference: %s" $ref) -}}
{{- end -}}
{{- $name := printf "cert-%d" $index -}}
{{- $index = add $index 1 -}}
{{- $byType := get $stores $type | default dict -}}
{{- $_ := set $byType $name (list $provider) -}}
{{- $_ := set $stores $type $byType -}}
{{- $trustStores = append $trustStores (printf "%s:%s" $type $name) -}}
{{- end -}}
{{- end -}}
{{- $level := $p.level | default (($p.signatureVerification | default dict).level) | default "strict" -}}
{{- $verification := deepCopy ($p.signatureVerification | default dict) -}}
{{- $_ := set $verification "level" $level -}}
{{- $out = append $out (dict "name" ($p.name | default (printf "trustPolicy-%d" $i)) "registryScopes" ($p.registryScopes | default (list "*")) "signatureVerification" $verification "trustStores" $trustStores "trustedIdentities" ($p.trustedIdentities | default (list "*"))) -}}
{{- end -}}
{{- if $legacy -}}{{- $stores = dict "certs" $certNames -}}{{- end -}}
{{- toJson (dict "verificationCertStores" $stores "trustPolicyDoc" (dict "version" "1.0" "trustPolicies" $out)) -}}
{{- end -}}

{{- /* Keys whose feature another open issue builds: refused, never silently dropped. */ -}}
{{- define "ratify.refuseUnbuilt" -}}
{{- $v := .Values -}}
{{- $refused := list -}}
{{- if ne (toString $v.instrumentation.metricsType) "prometheus" }}{{ $refused = append $refused (printf "instrumentation.metricsType %s (prometheus only)" $v.instrumentation.metricsType) }}{{ end -}}
{{- /* Cloud identity: one auth provider per store (Ratify's chart would render a duplicate
authProvider key); Key Vault lives in a KeyManagementProvider resource. */ -}}
{{- $enabled := list -}}
{{- range $key := list "azureWorkloadIdentityEnabled" "azureManagedIdentityEnabled" "awsEcrBasicEnabled" "alibabacloudAcrBasicEnabled" "k8secretsEnabled" -}}
{{- if index $v.oras.authProviders $key }}{{ $enabled = append $enabled (printf "oras.authProviders.%s" $key) }}{{ end -}}
{{- end -}}
{{- if and $v.oras.authProviders.dockerConfigSecret (gt (len $enabled) 0) (not (has "oras.authProviders.k8secretsEnabled" $enabled)) }}{{ $enabled = append $enabled "oras.authProviders.dockerConfigSecret" }}{{ end -}}
{{- if gt (len $enabled) 1 -}}
{{- fail (printf "the store has one auth provider: choose one of %s" (join ", " $enabled)) -}}
{{- end -}}
{{- if and (or $v.azurekeyvault.enabled $v.akvCertConfig.enabled) (not $v.crdManager.enabled) -}}
{{- fail "azurekeyvault / akvCertConfig need crdManager.enabled: the vault is read by a KeyManagementProvider resource (kmprovider-akv)" -}}
{{- end -}}
{{- $cacheType := toString (default "ristretto" $v.provider.cache.type) -}}
{{- if not (has $cacheType (list "ristretto" "dapr" "redis")) -}}
{{- fail (printf "provider.cache.type %s is not supported: use ristretto, or dapr / redis (shared by the replicas)" $cacheType) -}}
{{- end -}}
{{- $shared := and $v.provider.cache.enabled (ne $cacheType "ristretto") -}}
{{- if and $shared (not $v.featureFlags.RATIFY_EXPERIMENTAL_HIGH_AVAILABILITY) -}}
{{- fail (printf "provider.cache.type %s needs featureFlags.RATIFY_EXPERIMENTAL_HIGH_AVAILABILITY=true (as in Ratify)" $cacheType) -}}
{{- end -}}
{{- if and $v.featureFlags.RATIFY_EXPERIMENTAL_HIGH_AVAILABILITY (not $shared) -}}
{{- fail "featureFlags.RATIFY_EXPERIMENTAL_HIGH_AVAILABILITY needs provider.cache.enabled and provider.cache.type dapr (or redis): the replicas share their cache through Redis" -}}
{{- end -}}
{{- if $refused -}}
{{- fail (printf "not available in this version of ratify (see charts/ratify/README.md): %s" (join ", " $refused)) -}}
{{- end -}}
{{- end -}}

{{- /* File mode: the notation-certs secret's items in notation's trust store layout
(x509/<type>/<store>/<file>), from the same mapping the Verifier resource gets, so a certificate
fills only the stores the trust policies give it (a TSA root never becomes a signing CA). */ -}}
{{- define "ratify.notationCertItems" -}}
{{- $fullname := include "ratify.fullname" . -}}
{{- $stores := (include "ratify.notationVerifier" . | fromJson).verificationCertStores -}}
{{- $typed := $stores -}}
{{- if hasKey $stores "certs" -}}{{- $typed = dict "ca" (dict "certs" $stores.certs) -}}{{- end -}}
{{- $items := list -}}
{{- range $type, $named := $typed -}}
{{- range $store, $names := $named -}}
{{- range $name := $names -}}
{{- $key := "cert.crt" -}}
{{- if ne $name (printf "%s-notation-inline-cert" $fullname) -}}{{- $key = printf "cert-%s.crt" (trimPrefix (printf "%s-notation-inline-cert-" $fullname) $name) -}}{{- end -}}
{{- $items = append $items (dict "key" $key "path" (printf "x509/%s/%s/%s" $type $store $key)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $items -}}
{{- end -}}

{{- /* Replicas share a Redis cache (HA). */ -}}
{{- define "ratify.sharedCache" -}}
{{- if and .Values.provider.cache.enabled (has (toString .Values.provider.cache.type) (list "dapr" "redis")) -}}true{{- end -}}
{{- end -}}

{{- define "ratify.sharedCacheKeySecret" -}}
{{- default (printf "%s-shared-cache-key" (include "ratify.fullname" .)) .Values.provider.cache.redis.keySecret.name -}}
{{- end -}}

{{- /* policy.multiPlatform: index (Ratify's behaviour), children or either; anything else refused. */ -}}
{{- define "ratify.multiPlatform" -}}
{{- $mode := toString .Values.policy.multiPlatform -}}
{{- if not (has $mode (list "index" "children" "either")) -}}
{{- fail (printf "policy.multiPlatform %s is not supported: use index, children or either" $mode) -}}
{{- end -}}
{{- $mode -}}
{{- end -}}

{{- /* policy.useRego: Ratify's chart's default rego policy (charts/ratify/templates/policy.yaml, v1.4.0), verbatim:
every report and nested report must pass, and every artifact must have a report. */ -}}
{{- define "ratify.regoPolicy" -}}
package ratify.policy

default valid := false

# all artifacts MUST be valid
valid {
  not failed_verify(input)
}

# all reports MUST pass the verification
failed_verify(reports) {
  [path, value] := walk(reports)
  value == false
  path[count(path) - 1] == "isSuccess"
}

# each artifact MUST have at least one report
failed_verify(reports) {
  [path, value] := walk(reports)
  path[count(path) - 1] == "verifierReports"
  count(value) == 0
}
{{- end -}}
