{{/* Egress to cluster DNS. */}}
{{- define "mtd.dnsEgress" -}}
- to:
    {{- toYaml .Values.dns.networkPolicyPeers | nindent 4 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}

{{/* Egress to the OTLP collector, when tracing is exported. */}}
{{- define "mtd.otlpEgress" -}}
{{- if .Values.otel.endpoint }}
- to:
    {{- toYaml .Values.otel.networkPolicyPeers | nindent 4 }}
  ports:
    - port: {{ .Values.otel.port }}
      protocol: TCP
{{- end }}
{{- end -}}

{{/* Egress to PostgreSQL: the configured peers, or the port alone when none are given. */}}
{{- define "mtd.postgresEgress" -}}
- ports:
    - port: {{ .Values.postgresql.port }}
      protocol: TCP
  {{- with .Values.postgresql.networkPolicyPeers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* DNS, PostgreSQL, OTLP, Vault when enabled and (when the second argument is true) NATS. Call with (list $ bool). */}}
{{- define "mtd.baseEgress" -}}
{{- $root := index . 0 -}}
{{ include "mtd.dnsEgress" $root }}
{{ include "mtd.postgresEgress" $root }}
{{- include "mtd.otlpEgress" $root }}
{{- if $root.Values.vault.enabled }}
- to:
    {{- toYaml $root.Values.vault.networkPolicyPeers | nindent 4 }}
  ports:
    - port: {{ $root.Values.vault.port }}
      protocol: TCP
{{- end }}
{{- if index . 1 }}
- to:
    {{- toYaml $root.Values.nats.networkPolicyPeers | nindent 4 }}
  ports:
    - port: {{ $root.Values.nats.port }}
      protocol: TCP
{{- end }}
{{- end -}}
