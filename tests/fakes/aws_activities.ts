// The scaling activities of the Auto Scaling fake (tests/fakes/aws_autoscaling.ts): their XML, as
// TerminateInstanceInAutoScalingGroup and DescribeScalingActivities answer it, and the selection
// that DescribeScalingActivities makes (ids, group, newest first, MaxRecords and NextToken).

export interface FakeActivity {
  activityId: string;
  autoScalingGroupName: string;
  description: string;
  cause: string;
  startTime: Date;
  endTime?: Date;
  /** InProgress, Successful, Failed, Cancelled, WaitingForInstanceId, ... */
  statusCode: string;
  statusMessage?: string;
  progress: number;
  details: string;
}

/** Escapes element text (the fake writes no attribute values from input). */
export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** One element with escaped text. */
export function tag(name: string, value: string | number | boolean): string {
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** An Activity's members, in the order the real service writes them. */
export function activityXml(a: FakeActivity, indent: string): string {
  const members = [
    tag("ActivityId", a.activityId),
    tag("AutoScalingGroupName", a.autoScalingGroupName),
    tag("Description", a.description),
    tag("Cause", a.cause),
    tag("StartTime", a.startTime.toISOString()),
    ...(a.endTime ? [tag("EndTime", a.endTime.toISOString())] : []),
    tag("StatusCode", a.statusCode),
    ...(a.statusMessage ? [tag("StatusMessage", a.statusMessage)] : []),
    tag("Progress", a.progress),
    tag("Details", a.details),
  ];
  return members.map((m) => `${indent}${m}\n`).join("");
}

/** What DescribeScalingActivities asked for, or a validation message. */
export function activityQuery(
  params: Record<string, string>,
): { ids: string[]; group?: string; max: number; from: number } | string {
  const ids = Object.keys(params)
    .filter((k) => /^ActivityIds\.member\.\d+$/.test(k))
    .sort((a, b) => Number(a.split(".")[2]) - Number(b.split(".")[2]))
    .map((k) => params[k]);
  const max = params.MaxRecords === undefined ? 100 : Number(params.MaxRecords);
  if (!Number.isInteger(max) || max < 1 || max > 100) {
    return `1 validation error detected: Value '${params.MaxRecords}' at 'maxRecords' failed to ` +
      `satisfy constraint: Member must have value less than or equal to 100`;
  }
  const from = params.NextToken === undefined ? 0 : Number(params.NextToken);
  if (!Number.isInteger(from) || from < 0) return "The specified NextToken is invalid.";
  return { ids, group: params.AutoScalingGroupName, max, from };
}

/** The DescribeScalingActivities answer: unknown ids and groups give no members, no error. */
export function describeActivitiesXml(
  activities: FakeActivity[],
  query: { ids: string[]; group?: string; max: number; from: number },
  requestId: string,
): string {
  const matching = activities
    .filter((a) => query.ids.length === 0 || query.ids.includes(a.activityId))
    .filter((a) => query.group === undefined || a.autoScalingGroupName === query.group)
    .sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
  const page = matching.slice(query.from, query.from + query.max);
  const next = query.from + query.max < matching.length
    ? `    ${tag("NextToken", query.from + query.max)}\n`
    : "";
  const members = page.map((a) => `      <member>\n${activityXml(a, "        ")}      </member>\n`);
  return `<DescribeScalingActivitiesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">\n` +
    `  <DescribeScalingActivitiesResult>\n    <Activities>\n${
      members.join("")
    }    </Activities>\n` +
    `${next}  </DescribeScalingActivitiesResult>\n` +
    `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n` +
    `</DescribeScalingActivitiesResponse>\n`;
}
