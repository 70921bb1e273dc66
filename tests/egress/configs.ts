// Terraform configurations the egress tests plan through the door and proxy and compare with bare terraform.

export const PROVIDER = `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
provider "aws" {
  region = "us-east-1"
}
`;

/** Five data sources the fake AWS (fake-aws.ts) answers: sts, ec2 (zones, images, vpcs) and an S3 object. */
export const DATA_SOURCES = `${PROVIDER}
data "aws_caller_identity" "me" {}
data "aws_availability_zones" "azs" { state = "available" }
data "aws_ami" "al2023" {
  most_recent = true
  owners      = ["amazon"]
  filter {
    name   = "name"
    values = ["al2023-ami-*-x86_64"]
  }
}
data "aws_vpc" "default" { default = true }
data "aws_s3_object" "settings" {
  bucket = "confine-bucket"
  key    = "config/settings.json"
}
resource "terraform_data" "out" {
  input = {
    account = data.aws_caller_identity.me.account_id
    azs     = data.aws_availability_zones.azs.names
    ami     = data.aws_ami.al2023.id
    vpc     = data.aws_vpc.default.cidr_block
    body    = data.aws_s3_object.settings.body
  }
}
`;
