// Answers of the fake AWS upstream: realistic XML for the calls the AWS provider 5.100.0 makes for the
// data sources the egress tests plan (sts, ec2 query protocol; s3 objects are served by fake-aws.ts).

export const ACCOUNT_ID = '123456789012';
const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const REQUEST_ID = '7a62c49f-347e-4fc4-9331-6e8eEXAMPLE';

/** The EC2 query protocol's envelope: <ActionResponse> with the request id, then the action's own elements. */
function ec2Response(action: string, inner: string): string {
  return `<${action}Response xmlns="${EC2_NS}">
  <requestId>${REQUEST_ID}</requestId>${inner}
</${action}Response>`;
}

export function callerIdentity(accessKeyId: string): string {
  return `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::${ACCOUNT_ID}:user/confine-test</Arn>
    <UserId>${accessKeyId.startsWith('ASIA') ? 'AROAEXAMPLE:confine' : 'AIDAEXAMPLEUSERID'}</UserId>
    <Account>${ACCOUNT_ID}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>${REQUEST_ID}</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`;
}

export function availabilityZones(region: string): string {
  const zones = ['a', 'b', 'c']
    .map(
      (letter, i) => `    <item>
      <zoneName>${region}${letter}</zoneName>
      <zoneId>use1-az${i + 1}</zoneId>
      <zoneState>available</zoneState>
      <regionName>${region}</regionName>
      <groupName>${region}</groupName>
      <networkBorderGroup>${region}</networkBorderGroup>
      <optInStatus>opt-in-not-required</optInStatus>
      <zoneType>availability-zone</zoneType>
      <messageSet/>
    </item>`,
    )
    .join('\n');
  return ec2Response('DescribeAvailabilityZones', `
  <availabilityZoneInfo>
${zones}
  </availabilityZoneInfo>`);
}

export function images(): string {
  return ec2Response('DescribeImages', `
  <imagesSet>
    <item>
      <imageId>ami-0abcdef1234567890</imageId>
      <imageLocation>amazon/al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64</imageLocation>
      <imageState>available</imageState>
      <imageOwnerId>137112412989</imageOwnerId>
      <creationDate>2024-12-12T20:19:37.000Z</creationDate>
      <isPublic>true</isPublic>
      <architecture>x86_64</architecture>
      <imageType>machine</imageType>
      <name>al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64</name>
      <description>Amazon Linux 2023 AMI 2023.6.20241212.0 x86_64 HVM kernel-6.1</description>
      <imageOwnerAlias>amazon</imageOwnerAlias>
      <rootDeviceType>ebs</rootDeviceType>
      <rootDeviceName>/dev/xvda</rootDeviceName>
      <blockDeviceMapping>
        <item>
          <deviceName>/dev/xvda</deviceName>
          <ebs>
            <snapshotId>snap-0123456789abcdef0</snapshotId>
            <volumeSize>8</volumeSize>
            <deleteOnTermination>true</deleteOnTermination>
            <volumeType>gp3</volumeType>
            <iops>3000</iops>
            <encrypted>false</encrypted>
            <throughput>125</throughput>
          </ebs>
        </item>
      </blockDeviceMapping>
      <virtualizationType>hvm</virtualizationType>
      <hypervisor>xen</hypervisor>
      <enaSupport>true</enaSupport>
      <sriovNetSupport>simple</sriovNetSupport>
      <bootMode>uefi-preferred</bootMode>
      <platformDetails>Linux/UNIX</platformDetails>
      <usageOperation>RunInstances</usageOperation>
      <imdsSupport>v2.0</imdsSupport>
      <deprecationTime>2025-03-12T20:19:00.000Z</deprecationTime>
    </item>
  </imagesSet>`);
}

export function vpcs(): string {
  return ec2Response('DescribeVpcs', `
  <vpcSet>
    <item>
      <vpcId>vpc-0a1b2c3d4e5f67890</vpcId>
      <ownerId>${ACCOUNT_ID}</ownerId>
      <state>available</state>
      <cidrBlock>172.31.0.0/16</cidrBlock>
      <cidrBlockAssociationSet>
        <item>
          <cidrBlock>172.31.0.0/16</cidrBlock>
          <associationId>vpc-cidr-assoc-0123456789abcdef0</associationId>
          <cidrBlockState><state>associated</state></cidrBlockState>
        </item>
      </cidrBlockAssociationSet>
      <dhcpOptionsId>dopt-0123456789abcdef0</dhcpOptionsId>
      <instanceTenancy>default</instanceTenancy>
      <isDefault>true</isDefault>
      <tagSet><item><key>Name</key><value>default</value></item></tagSet>
    </item>
  </vpcSet>`);
}

export function vpcAttribute(vpcId: string, attribute: string): string {
  const element = attribute.charAt(0).toLowerCase() + attribute.slice(1);
  return ec2Response('DescribeVpcAttribute', `
  <vpcId>${vpcId}</vpcId>
  <${element}><value>${attribute === 'enableNetworkAddressUsageMetrics' ? 'false' : 'true'}</value></${element}>`);
}

export function routeTables(vpcId: string): string {
  return ec2Response('DescribeRouteTables', `
  <routeTableSet>
    <item>
      <routeTableId>rtb-0123456789abcdef0</routeTableId>
      <vpcId>${vpcId}</vpcId>
      <ownerId>${ACCOUNT_ID}</ownerId>
      <routeSet>
        <item><destinationCidrBlock>172.31.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state><origin>CreateRouteTable</origin></item>
      </routeSet>
      <associationSet>
        <item>
          <routeTableAssociationId>rtbassoc-0123456789abcdef0</routeTableAssociationId>
          <routeTableId>rtb-0123456789abcdef0</routeTableId>
          <main>true</main>
          <associationState><state>associated</state></associationState>
        </item>
      </associationSet>
      <propagatingVgwSet/>
      <tagSet/>
    </item>
  </routeTableSet>`);
}

/** aws_ami asks for the image's UEFI data store; AMIs without one answer an empty element. */
export function instanceUefiData(imageId: string): string {
  return ec2Response('GetInstanceUefiData', `
  <instanceId>${imageId}</instanceId>
  <uefiData/>`);
}

export function ec2Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${REQUEST_ID}</RequestID></Response>`;
}

export function queryError(code: string, message: string): string {
  return `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${REQUEST_ID}</RequestId></ErrorResponse>`;
}

export function s3Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${REQUEST_ID}</RequestId></Error>`;
}
