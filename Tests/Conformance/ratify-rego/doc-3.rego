package ratify.policy
import future.keywords.in
default valid := false
valid {
  not failed_verify(input)
}
# Fail the verification if no signatures are signed by trusted identity.
failed_verify(reports) {
  not has_trusted_signature(reports.verifierReports)
}
# Fail the verification if no signatures are present.
failed_verify(reports) {
  [path, value] := walk(reports)
  path[count(path) - 1] == "verifierReports"
  count(value) == 0
}
# There is a signature signed by trusted identity.
has_trusted_signature(reports) {
	some report in reports
  report.artifactType == "application/vnd.cncf.notary.signature"
  pass_validation(report.verifierReports)
}
pass_validation(reports) {
	some report in reports
  report.isSuccess == true
}
