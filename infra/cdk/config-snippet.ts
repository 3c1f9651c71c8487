/**
 * How the fleet stack's outputs map to convoy.config.json (shared/config.ts): the `state`
 * section names the tables and queues; the `aws` remote uses the instance role (no keys in the
 * file). The stack writes this file on every instance and prints it as the `ConvoyConfig`
 * output, so an operator's laptop can use the same file (with its own credentials or profile).
 */

export interface FleetOutputs {
  region: string;
  itemsTable: string;
  metaTable: string;
  queueName: string;
  dlqName: string;
  queueUrl: string;
  dlqUrl: string;
}

export interface ConvoyConfigFile {
  state: FleetOutputs;
  remotes: Record<string, { region: string }>;
}

/** The convoy.config.json for a deployed fleet. */
export function convoyConfigFor(outputs: FleetOutputs): ConvoyConfigFile {
  return {
    state: {
      region: outputs.region,
      itemsTable: outputs.itemsTable,
      metaTable: outputs.metaTable,
      queueName: outputs.queueName,
      dlqName: outputs.dlqName,
      // exact URLs, so workers do not need sqs:GetQueueUrl at start-up (it is granted anyway)
      queueUrl: outputs.queueUrl,
      dlqUrl: outputs.dlqUrl,
    },
    // S3 in this region with the default credential chain (the instance role on EC2).
    remotes: { aws: { region: outputs.region } },
  };
}
