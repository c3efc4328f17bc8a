package ratify.policy
default valid := false
valid if {
	not failed_verify(input)
}
failed_verify(reports) if {
	newReports := {"nestedReports": reports.verifierReports}
	has_subject_failed_verify(newReports)
}
has_subject_failed_verify(nestedReports) if {
	[path, value] := walk(nestedReports)
	not artifact_type_pass_verify(value)
	path[count(path) - 1] == "nestedReports"
}
# at least one artifact of the same type passed verification
artifact_type_pass_verify(nestedReports) if {
	count_artifact_type(nestedReports) == count_successful_artifact_type(nestedReports)
}
count_artifact_type(nestedReports) := number if {
	artifact_types := {x |
		some i
		x := nestedReports[i].artifactType
	}
	number := count(artifact_types)
}
count_successful_artifact_type(nestedReports) := number if {
	artifact_types := {x |
		some i
		x := nestedReports[i].artifactType
		artifact_pass_verify(nestedReports[i].verifierReports)
	}
	number := count(artifact_types)
}
# an artifact has at least one successful report
artifact_pass_verify(verifierReports) if {
	verifierReports[_].isSuccess == true
}
# should be at least one verifier report that is successful
failed_verify(reports) if {
	[path, value] := walk(reports)
	path[count(path) - 1] == "verifierReports"
	count(value) == 0
}
